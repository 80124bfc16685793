// The safetensors reader (bounds checks with byte offsets in every error) and the conversion of
// a bitsandbytes NF4 checkpoint's quant-state keys to Hearth's GGUF NF4 blocks, on files built
// here byte by byte: the converted weight dequantizes bit-exactly to the spec's per-element
// reconstruction (spec §3: absmax = code2[q] * absmax2 + offset; w = NF4[nibble] * absmax).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <hearth/safetensors.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "nf4_reference.hpp"

namespace hearth::test {
namespace {

using ::testing::HasSubstr;
namespace nf4 = format_nf4;

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<std::byte> string_bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// A safetensors file: u64 header length, JSON header padded with spaces to 8 bytes, data.
std::vector<std::byte> write_file(const std::vector<Entry>& entries,
                                  const nlohmann::json& metadata = nullptr) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& e : entries) {
    header[e.name] = {{"dtype", e.dtype},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  std::vector<std::byte> out(8);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  const auto t = string_bytes(text);
  out.insert(out.end(), t.begin(), t.end());
  for (const auto& e : entries) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  return out;
}

std::string parse_error(std::vector<std::byte> bytes) {
  try {
    SafetensorsFile::parse(std::move(bytes), "bad.safetensors");
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "(no error)";
}

// ------------------------------------------------------------------ the reader

TEST(Safetensors, ReadsTensorsAndMetadata) {
  const std::vector<float> a = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const auto bytes = write_file({{"a", "F32", {2, 3}, as_bytes(a)},
                                 {"b", "U8", {3}, as_bytes(std::vector<uint8_t>{7, 8, 9})}},
                                {{"format", "pt"}});
  const auto f = SafetensorsFile::parse(bytes, "ok.safetensors");
  ASSERT_EQ(f.tensors().size(), 2u);
  const auto* t = f.tensor("a");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->dtype, SafetensorsDtype::F32);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t->n_elements(), 6);
  float v[6];
  std::memcpy(v, t->data.data(), sizeof v);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_EQ(std::to_integer<int>(f.tensor("b")->data[2]), 9);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.tensor("missing"), nullptr);

  const auto path = std::filesystem::temp_directory_path() / "hearth_safetensors_test.safetensors";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  const auto mapped = SafetensorsFile::open(path);
  EXPECT_EQ(mapped.tensor("b")->file_offset, t->file_offset + 24);
  std::filesystem::remove(path);
  EXPECT_THROW(SafetensorsFile::open(path), SafetensorsError);
}

TEST(Safetensors, RefusesBrokenFilesWithByteOffsets) {
  const auto good = write_file({{"a", "F32", {2}, as_bytes(std::vector<float>{1, 2})}});
  EXPECT_THAT(parse_error({good.begin(), good.begin() + 5}),
              HasSubstr("shorter than the 8-byte header length"));
  auto big = good;
  big[0] = std::byte{0xFF};
  big[3] = std::byte{0x7F};
  EXPECT_THAT(parse_error(big), HasSubstr("header length at byte 0 says"));
  EXPECT_THAT(parse_error({good.begin(), good.end() - 1}),
              HasSubstr("run past the end of the file"));
  auto broken_json = good;
  broken_json[9] = std::byte{'!'};
  EXPECT_THAT(parse_error(broken_json), HasSubstr("does not parse at file byte 9"));
  EXPECT_THAT(parse_error(write_file({{"a", "F32", {3}, as_bytes(std::vector<float>{1, 2})}})),
              HasSubstr("hold 8 bytes, but shape [3] of F32 needs 12"));
  EXPECT_THAT(parse_error(write_file({{"a", "Q4", {2}, as_bytes(std::vector<float>{1, 2})}})),
              HasSubstr("unknown dtype \"Q4\""));
  EXPECT_THAT(parse_error(write_file({{"a", "F32", {-2}, as_bytes(std::vector<float>{1, 2})}})),
              HasSubstr("expected a non-negative integer"));
  // Two tensors over the same bytes.
  std::string header =
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}})";
  std::vector<std::byte> overlap(8);
  overlap[0] = static_cast<std::byte>(header.size());
  const auto h = string_bytes(header);
  overlap.insert(overlap.end(), h.begin(), h.end());
  overlap.resize(overlap.size() + 4);
  EXPECT_THAT(parse_error(overlap), HasSubstr("overlap"));
}

// ------------------------------------------------------------------ bitsandbytes NF4

struct BnbWeight {
  int64_t out = 0, in = 0;
  nf4::Nf4Quantized q;
  nf4::DoubleQuantized dq;
  nf4::DynamicMap code2{};
};

BnbWeight make_weight(int64_t out, int64_t in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(out * in));
  for (auto& v : w) v = normal(rng);
  BnbWeight b;
  b.out = out;
  b.in = in;
  b.q = nf4::quantize_4bit(w, 64);
  b.code2 = nf4::dynamic_map();
  b.dq = nf4::double_quantize(b.q.absmax, b.code2);
  return b;
}

// Linear4bit._save_to_state_dict's keys for "<m>.weight" (spec §4).
std::vector<Entry> bnb_entries(const std::string& m, const BnbWeight& b, bool double_quant,
                               bool legacy_shape = false) {
  const int64_t nb = static_cast<int64_t>(b.q.absmax.size());
  std::vector<Entry> e;
  const auto packed = static_cast<int64_t>(b.q.packed.size());
  e.push_back({m, "U8",
               legacy_shape ? std::vector<int64_t>{1, packed} : std::vector<int64_t>{packed, 1},
               as_bytes(b.q.packed)});
  nlohmann::json state = {
      {"quant_type", "nf4"}, {"blocksize", 64}, {"dtype", "bfloat16"}, {"shape", {b.out, b.in}}};
  if (double_quant) {
    e.push_back({m + ".absmax", "U8", {nb}, as_bytes(b.dq.qabsmax)});
    e.push_back({m + ".nested_absmax",
                 "F32",
                 {static_cast<int64_t>(b.dq.absmax2.size())},
                 as_bytes(b.dq.absmax2)});
    e.push_back({m + ".nested_quant_map",
                 "F32",
                 {256},
                 as_bytes(std::vector<float>(b.code2.begin(), b.code2.end()))});
    state["nested_blocksize"] = 256;
    state["nested_dtype"] = "float32";
    state["nested_offset"] = static_cast<double>(b.dq.offset);
  } else {
    e.push_back({m + ".absmax", "F32", {nb}, as_bytes(b.q.absmax)});
  }
  e.push_back({m + ".quant_map",
               "F32",
               {16},
               as_bytes(std::vector<float>(nf4::kNf4Values.begin(), nf4::kNf4Values.end()))});
  e.push_back({m + ".quant_state.bitsandbytes__nf4",
               "U8",
               {static_cast<int64_t>(state.dump().size())},
               string_bytes(state.dump())});
  return e;
}

// Spec §3, element by element, straight from the bnb pieces.
std::vector<float> spec_dequantize(const BnbWeight& b, bool double_quant) {
  std::vector<float> out(static_cast<size_t>(b.out * b.in));
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t blk = i / 64;
    float absmax = b.q.absmax[blk];
    if (double_quant) {
      const float scaled = b.code2[b.dq.qabsmax[blk]] * b.dq.absmax2[blk / 256];
      absmax = scaled + b.dq.offset;
    }
    const uint8_t byte = b.q.packed[i / 2];
    const int code = i % 2 == 0 ? byte >> 4 : byte & 0x0F;
    out[i] = nf4::kNf4Values[static_cast<size_t>(code)] * absmax;
  }
  return out;
}

void expect_bit_exact(const BnbNf4Weight& got, const BnbWeight& b, bool double_quant) {
  ASSERT_EQ(got.n_in, b.in);
  ASSERT_EQ(got.n_out, b.out);
  ASSERT_EQ(got.blocks.size(), static_cast<size_t>(b.out * b.in / 64 * 36));
  std::vector<float> values(static_cast<size_t>(b.out * b.in));
  nf4::dequantize_blocks(got.blocks.data(), values.data(), b.out * b.in);
  const auto want = spec_dequantize(b, double_quant);
  size_t mismatches = 0;
  for (size_t i = 0; i < want.size(); ++i)
    mismatches += std::bit_cast<uint32_t>(values[i]) != std::bit_cast<uint32_t>(want[i]);
  EXPECT_EQ(mismatches, 0u);
}

TEST(BnbNf4, DoubleQuantizedWeightConvertsBitExactly) {
  // 40 x 448 = 280 blocks: two nested groups, so rows cross a group boundary.
  const auto b = make_weight(40, 448, 1);
  auto entries = bnb_entries("model.layers.0.mlp.up_proj.weight", b, true);
  const auto norm = as_bytes(std::vector<uint16_t>(448, 0x3F80));
  entries.push_back({"model.norm.weight", "BF16", {448}, norm});
  const auto f = SafetensorsFile::parse(write_file(entries), "bnb.safetensors");
  EXPECT_EQ(bnb_nf4_weight_names(f),
            (std::vector<std::string>{"model.layers.0.mlp.up_proj.weight"}));
  const auto got = convert_bnb_nf4(f, "model.layers.0.mlp.up_proj.weight");
  EXPECT_TRUE(got.double_quant);
  EXPECT_EQ(got.compute_dtype, "bfloat16");
  expect_bit_exact(got, b, true);
}

TEST(BnbNf4, PlainAbsmaxAndLegacyShapeConvertBitExactly) {
  const auto b = make_weight(3, 192, 2);
  const auto f = SafetensorsFile::parse(write_file(bnb_entries("w.weight", b, false, true)),
                                        "plain.safetensors");
  const auto got = convert_bnb_nf4(f, "w.weight");
  EXPECT_FALSE(got.double_quant);
  expect_bit_exact(got, b, false);
}

std::string convert_error(const std::vector<Entry>& entries) {
  try {
    convert_bnb_nf4(SafetensorsFile::parse(write_file(entries), "bnb.safetensors"), "w.weight");
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BnbNf4, RefusesWhatTheNf4TypeCannotHold) {
  const auto b = make_weight(2, 128, 3);
  auto entries = bnb_entries("w.weight", b, true);
  auto drop = [&](const std::string& name) {
    auto e = entries;
    std::erase_if(e, [&](const Entry& x) { return x.name == name; });
    return e;
  };
  EXPECT_THAT(convert_error(drop("w.weight.quant_map")),
              HasSubstr("'w.weight.quant_map' is missing"));
  EXPECT_THAT(convert_error(drop("w.weight.quant_state.bitsandbytes__nf4")),
              HasSubstr("no 'w.weight.quant_state.bitsandbytes__nf4'"));
  auto fp4 = entries;
  fp4.back().name = "w.weight.quant_state.bitsandbytes__fp4";
  EXPECT_THAT(convert_error(fp4), HasSubstr("quant type 'fp4' is not NF4"));
  auto two = entries;
  two.push_back(fp4.back());
  EXPECT_THAT(convert_error(two), HasSubstr("two quant states"));
  auto bad_map = entries;
  for (auto& e : bad_map)
    if (e.name == "w.weight.quant_map") e.bytes[3] = std::byte{0};
  EXPECT_THAT(convert_error(bad_map), HasSubstr("quant_map[0]"));
  auto state = nlohmann::json::parse(std::string(
      reinterpret_cast<const char*>(entries.back().bytes.data()), entries.back().bytes.size()));
  state["blocksize"] = 128;
  auto block128 = entries;
  block128.back().bytes = string_bytes(state.dump());
  block128.back().shape = {static_cast<int64_t>(block128.back().bytes.size())};
  EXPECT_THAT(convert_error(block128), HasSubstr("blocksize 128"));
  state["blocksize"] = "64";
  block128.back().bytes = string_bytes(state.dump());
  block128.back().shape = {static_cast<int64_t>(block128.back().bytes.size())};
  EXPECT_THAT(convert_error(block128), HasSubstr("expected a positive integer"));
  auto short_weight = entries;
  short_weight.front().bytes.pop_back();
  short_weight.front().shape = {static_cast<int64_t>(short_weight.front().bytes.size()), 1};
  EXPECT_THAT(convert_error(short_weight), HasSubstr("packs into 128"));
}

}  // namespace
}  // namespace hearth::test

// The GGUF weight-format plugin, through its C ABI only (loaded like the registry would load it):
// - dequantization is bit-exact with llama.cpp on every tensor of every synthetic model
//   (FNV-1a of the float32 output, shared/reference/dequant/<model>.json);
// - quantization reproduces llama-quantize's bytes (the synthetic models were quantized from the
//   F16 ones with it);
// - hand-built blocks decode to known values, and random blocks decode exactly as the element
//   formulas of shared/specs/gguf.md §4 say;
// - quantize -> dequantize error is within the per-type bounds of plugins/format-gguf/README.md;
// - bad input is refused with a message naming the numbers involved.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <hearth/sdk/abi.h>
#include <hearth/gguf.hpp>
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "../support/plugin_under_test.hpp"

namespace hearth::test {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

const fs::path kShared = HEARTH_TEST_SHARED_DIR;

// ------------------------------------------------------------------ the plugin, via its C ABI

class Format {
 public:
  Format() : plugin_(plugin_file("format", "gguf")) {}

  const hearth_format_api& api() const { return plugin_.api<hearth_format_api>(); }
  void* instance() const { return plugin_.instance(); }
  const hearth_plugin_descriptor& descriptor() const { return plugin_.descriptor(); }

  StatusResult dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) const {
    return take(api().dequantize(instance(), dtype, src, dst, n));
  }
  StatusResult quantize(hearth_dtype dtype, const float* src, void* dst, int64_t rows,
                        int64_t per_row, const float* importance = nullptr) const {
    return take(api().quantize(instance(), dtype, src, dst, rows, per_row, importance));
  }

  hearth_format_type type(hearth_dtype dtype) const {
    const uint32_t count = api().type_count(instance());
    for (uint32_t i = 0; i < count; ++i) {
      hearth_format_type t{};
      if (take(api().type_info(instance(), i, &t)).ok() && t.dtype == dtype) return t;
    }
    ADD_FAILURE() << "the plugin lists no dtype " << dtype;
    return hearth_format_type{};
  }

  int64_t row_bytes(hearth_dtype dtype, int64_t n) const {
    const auto t = type(dtype);
    return t.block_elems ? n / t.block_elems * t.block_bytes : 0;
  }

  std::vector<float> dequantize_ok(hearth_dtype dtype, const void* src, int64_t n) const {
    std::vector<float> out(static_cast<size_t>(n));
    const auto status = dequantize(dtype, src, out.data(), n);
    EXPECT_TRUE(status.ok()) << status.message();
    return out;
  }

  std::vector<uint8_t> quantize_ok(hearth_dtype dtype, const std::vector<float>& x, int64_t rows,
                                   int64_t per_row, const float* importance = nullptr) const {
    std::vector<uint8_t> out(static_cast<size_t>(rows * row_bytes(dtype, per_row)));
    const auto status = quantize(dtype, x.data(), out.data(), rows, per_row, importance);
    EXPECT_TRUE(status.ok()) << status.message();
    return out;
  }

 private:
  PluginUnderTest plugin_;
};

const Format& format() {
  static const Format f;
  return f;
}

// ------------------------------------------------------------------ helpers

// FNV-1a 64 over the little-endian bytes of each float, as the reference README defines it.
// The reference files were made with offset basis 1469598103934665603 (0x14650fb0739d0383), not
// FNV's 14695981039346656037 (the decimal lost its last digit); the prime is FNV's. Checked: the
// standard basis matches no tensor, this one matches the F32 tensors, which need no decoding.
std::string fnv1a64_hex(const std::vector<float>& values) {
  uint64_t hash = 1469598103934665603ull;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int k = 0; k < 4; ++k) {
      hash ^= (bits >> (8 * k)) & 0xFFu;
      hash *= 0x100000001b3ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// Normal-ish weights (Box-Muller over mt19937, whose output the standard fixes, so the data is
// the same with every standard library) with a few outlier columns ten times larger.
std::vector<float> make_weights(uint32_t seed, int64_t rows, int64_t cols) {
  std::mt19937 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };
  const int64_t outliers[] = {3, cols / 2 + 5, cols - 1};
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double z =
          std::sqrt(-2.0 * std::log(uniform())) * std::cos(2.0 * std::numbers::pi * uniform());
      const bool outlier =
          std::find(std::begin(outliers), std::end(outliers), c) != std::end(outliers);
      x[static_cast<size_t>(r * cols + c)] = static_cast<float>(0.02 * z * (outlier ? 10.0 : 1.0));
    }
  }
  return x;
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - y[i];
    err += d * d;
    ref += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(err / ref);
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  std::vector<uint8_t> out(n);
  std::memcpy(out.data(), p, n);
  return out;
}

float h2f(uint16_t h) { return sdk::fp16_to_fp32(h); }

void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); }
uint16_t get_u16(const std::vector<uint8_t>& b, size_t at) {
  uint16_t v;
  std::memcpy(&v, &b[at], 2);
  return v;
}

// ------------------------------------------------------------------ type table

struct ExpectedType {
  hearth_dtype dtype;
  const char* name;
  uint32_t block_elems;
  uint32_t block_bytes;
};

// shared/specs/gguf.md §4.
const ExpectedType kSpecTypes[] = {
    {HEARTH_DTYPE_F32, "F32", 1, 4},       {HEARTH_DTYPE_F16, "F16", 1, 2},
    {HEARTH_DTYPE_BF16, "BF16", 1, 2},     {HEARTH_DTYPE_Q4_0, "Q4_0", 32, 18},
    {HEARTH_DTYPE_Q4_1, "Q4_1", 32, 20},   {HEARTH_DTYPE_Q5_0, "Q5_0", 32, 22},
    {HEARTH_DTYPE_Q5_1, "Q5_1", 32, 24},   {HEARTH_DTYPE_Q8_0, "Q8_0", 32, 34},
    {HEARTH_DTYPE_Q8_1, "Q8_1", 32, 36},   {HEARTH_DTYPE_Q2_K, "Q2_K", 256, 84},
    {HEARTH_DTYPE_Q3_K, "Q3_K", 256, 110}, {HEARTH_DTYPE_Q4_K, "Q4_K", 256, 144},
    {HEARTH_DTYPE_Q5_K, "Q5_K", 256, 176}, {HEARTH_DTYPE_Q6_K, "Q6_K", 256, 210},
    {HEARTH_DTYPE_Q8_K, "Q8_K", 256, 292},
};

TEST(FormatGgufTypes, DescriptorSaysFormatGguf) {
  EXPECT_EQ(format().descriptor().kind, HEARTH_KIND_FORMAT);
  EXPECT_STREQ(format().descriptor().name, "gguf");
}

TEST(FormatGgufTypes, ListsEveryTypeWithTheSpecsBlockLayout) {
  const auto& f = format();
  ASSERT_EQ(f.api().type_count(f.instance()), std::size(kSpecTypes));
  for (const auto& e : kSpecTypes) {
    SCOPED_TRACE(e.name);
    const auto t = f.type(e.dtype);
    EXPECT_EQ(t.struct_size, sizeof(hearth_format_type));
    EXPECT_STREQ(t.name, e.name);
    EXPECT_EQ(t.block_elems, e.block_elems);
    EXPECT_EQ(t.block_bytes, e.block_bytes);
  }
}

TEST(FormatGgufTypes, TypeInfoPastTheEndIsInvalidArgument) {
  const auto& f = format();
  hearth_format_type t{};
  const auto status = take(f.api().type_info(f.instance(), 99, &t));
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("99"));
}

// ------------------------------------------------------------------ 1. bit-exact with llama.cpp

struct SyntheticModel {
  fs::path gguf;
  fs::path reference;
};

std::vector<SyntheticModel> synthetic_models_with_reference() {
  std::vector<SyntheticModel> out;
  for (const auto& entry : fs::directory_iterator(kShared / "models" / "synthetic")) {
    if (entry.path().extension() != ".gguf") continue;
    const auto ref = kShared / "reference" / "dequant" / (entry.path().stem().string() + ".json");
    if (fs::exists(ref)) out.push_back({entry.path(), ref});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.gguf < b.gguf; });
  return out;
}

TEST(FormatGgufBitExact, EveryTensorOfEverySyntheticModelHashesLikeLlamaCpp) {
  const auto models = synthetic_models_with_reference();
  ASSERT_GE(models.size(), 10u) << "expected the synthetic models and their dequant references";
  for (const auto& model : models) {
    SCOPED_TRACE(model.gguf.filename().string());
    std::ifstream in(model.reference);
    const auto ref = nlohmann::json::parse(in);
    const auto file = GgufFile::open(model.gguf, {});
    ASSERT_EQ(ref.at("tensors").size(), file.tensors().size());
    size_t checked = 0;
    for (const auto& expected : ref.at("tensors")) {
      const std::string name = expected.at("name");
      SCOPED_TRACE(name + " (" + std::string(expected.at("type")) + ")");
      const auto* tensor = file.tensor(name);
      ASSERT_NE(tensor, nullptr);
      ASSERT_EQ(tensor->n_elements(), expected.at("n").get<int64_t>());
      const auto values = format().dequantize_ok(tensor->type, tensor->data, tensor->n_elements());
      EXPECT_EQ(fnv1a64_hex(values), expected.at("fnv1a64_f32").get<std::string>())
          << "first values: " << values[0] << " " << values[1] << " " << values[2] << "; expected "
          << expected.at("first").dump();
      ++checked;
    }
    EXPECT_EQ(checked, file.tensors().size());
  }
}

// The synthetic quantized models are llama-quantize's output (no imatrix) from the F16 models:
// re-quantizing the F16 weights must give the same bytes, block for block.
TEST(FormatGgufBitExact, QuantizingTheF16ModelsReproducesLlamaQuantize) {
  const auto dir = kShared / "models" / "synthetic";
  const std::pair<const char*, const char*> pairs[] = {
      {"llama-small-Q2_K", "llama-small-F16"},   {"llama-small-Q3_K_M", "llama-small-F16"},
      {"llama-small-Q4_0", "llama-small-F16"},   {"llama-small-Q4_1", "llama-small-F16"},
      {"llama-small-Q4_K_M", "llama-small-F16"}, {"llama-small-Q5_0", "llama-small-F16"},
      {"llama-small-Q5_1", "llama-small-F16"},   {"llama-small-Q5_K_M", "llama-small-F16"},
      {"llama-small-Q6_K", "llama-small-F16"},   {"llama-small-Q8_0", "llama-small-F16"},
      {"qwen2-small-Q4_K_M", "qwen2-small-F16"},
  };
  std::map<std::string, int> tensors_per_type;
  for (const auto& [quantized_name, source_name] : pairs) {
    SCOPED_TRACE(quantized_name);
    const auto quantized = GgufFile::open(dir / (std::string(quantized_name) + ".gguf"), {});
    const auto source = GgufFile::open(dir / (std::string(source_name) + ".gguf"), {});
    for (const auto& t : quantized.tensors()) {
      SCOPED_TRACE(t.name);
      const auto* s = source.tensor(t.name);
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->ne, t.ne);
      const auto x = format().dequantize_ok(s->type, s->data, s->n_elements());
      const int64_t per_row = t.ne[0];
      const int64_t rows = t.n_elements() / per_row;
      const auto ours = format().quantize_ok(t.type, x, rows, per_row);
      ASSERT_EQ(ours.size(), t.nbytes);
      const auto theirs = bytes_of(t.data, t.nbytes);
      const auto block_bytes = format().type(t.type).block_bytes;
      size_t first_diff = ours.size();
      size_t blocks_differing = 0;
      for (size_t b = 0; b < ours.size(); b += block_bytes) {
        if (std::memcmp(&ours[b], &theirs[b], block_bytes) != 0) {
          first_diff = std::min(first_diff, b);
          ++blocks_differing;
        }
      }
      EXPECT_EQ(blocks_differing, 0u) << "type " << t.type << ", first differing block at byte "
                                      << first_diff << " of " << ours.size();
      ++tensors_per_type[format().type(t.type).name];
    }
  }
  // Every block type the files hold was exercised (F32 norms and F16 appear too).
  for (const char* name :
       {"Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0", "Q5_1", "Q5_K", "Q6_K", "Q8_0"})
    EXPECT_GT(tensors_per_type[name], 0) << name;
}

// ------------------------------------------------------------------ 3. hand-built blocks

constexpr uint16_t kHalfQuarter = 0x3400, kHalfHalf = 0x3800, kHalfOne = 0x3C00,
                   kHalfMinusTwo = 0xC000;

TEST(FormatGgufKnownBlocks, Q8_0HalfScale) {
  std::vector<uint8_t> b(34);
  put_u16(b, 0, kHalfHalf);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(4 * j - 64));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q8_0, b.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], static_cast<float>(2 * j - 32)) << j;
}

TEST(FormatGgufKnownBlocks, Q8_1IgnoresTheSumField) {
  std::vector<uint8_t> b(36);
  put_u16(b, 0, kHalfQuarter);
  put_u16(b, 2, 0x7C00);  // s = inf: must not matter
  for (int j = 0; j < 32; ++j) b[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q8_1, b.data(), 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.25f * static_cast<float>(j - 16)) << j;
}

TEST(FormatGgufKnownBlocks, Q4_0LowNibblesAreTheFirstHalf) {
  std::vector<uint8_t> b(18);
  put_u16(b, 0, kHalfQuarter);
  for (int i = 0; i < 16; ++i) b[2 + i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q4_0, b.data(), 32);
  const float expected[32] = {-2.0f,  -1.75f, -1.5f,  -1.25f, -1.0f,  -0.75f, -0.5f,  -0.25f,
                              0.0f,   0.25f,  0.5f,   0.75f,  1.0f,   1.25f,  1.5f,   1.75f,
                              1.75f,  1.5f,   1.25f,  1.0f,   0.75f,  0.5f,   0.25f,  0.0f,
                              -0.25f, -0.5f,  -0.75f, -1.0f,  -1.25f, -1.5f,  -1.75f, -2.0f};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], expected[j]) << j;
}

TEST(FormatGgufKnownBlocks, Q4_1AddsTheMin) {
  std::vector<uint8_t> b(20);
  put_u16(b, 0, kHalfHalf);
  put_u16(b, 2, kHalfMinusTwo);
  for (int i = 0; i < 16; ++i) b[4 + i] = static_cast<uint8_t>((15 - i) | (i << 4));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q4_1, b.data(), 32);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], 0.5f * static_cast<float>(15 - i) - 2.0f) << i;
    EXPECT_EQ(y[16 + i], 0.5f * static_cast<float>(i) - 2.0f) << 16 + i;
  }
  EXPECT_EQ(y[0], 5.5f);
  EXPECT_EQ(y[16], -2.0f);
}

TEST(FormatGgufKnownBlocks, Q5_0FifthBitsComeFromALittleEndianWord) {
  std::vector<uint8_t> b(22);
  put_u16(b, 0, kHalfOne);
  const uint8_t qh[4] = {0xA5, 0x0F, 0xF0, 0x3C};  // H = 0x3CF00FA5
  std::memcpy(&b[2], qh, 4);
  for (int i = 0; i < 16; ++i) b[6 + i] = static_cast<uint8_t>(i | (i << 4));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q5_0, b.data(), 32);
  const float expected[32] = {0,   -15, 2,   -13, -12, 5, -10, 7, 8,  9,  10, 11, -4, -3, -2, -1,
                              -16, -15, -14, -13, 4,   5, 6,   7, -8, -7, 10, 11, 12, 13, -2, -1};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], expected[j]) << j;
}

TEST(FormatGgufKnownBlocks, Q5_1FifthBitsAndMin) {
  std::vector<uint8_t> b(24);
  put_u16(b, 0, kHalfHalf);
  put_u16(b, 2, kHalfOne);
  const uint8_t qh[4] = {0xFF, 0x00, 0x00, 0xFF};  // elements 0-7 and 24-31 have the 5th bit
  std::memcpy(&b[4], qh, 4);
  for (int i = 0; i < 16; ++i) b[8 + i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q5_1, b.data(), 32);
  for (int i = 0; i < 16; ++i) {
    const int q0 = i + (i < 8 ? 16 : 0);
    const int q1 = (15 - i) + (i >= 8 ? 16 : 0);
    EXPECT_EQ(y[i], 0.5f * static_cast<float>(q0) + 1.0f) << i;
    EXPECT_EQ(y[16 + i], 0.5f * static_cast<float>(q1) + 1.0f) << 16 + i;
  }
  EXPECT_EQ(y[0], 9.0f);   // q = 16
  EXPECT_EQ(y[31], 9.0f);  // q = 0 + 16
  EXPECT_EQ(y[8], 5.0f);   // q = 8
  EXPECT_EQ(y[16], 8.5f);  // q = 15
}

// Q4_K/Q5_K scale bytes, written from the spec's table (§4.3), not from the plugin's code.
void put_k4_scales(std::vector<uint8_t>& b, size_t at, const int (&sc)[8], const int (&mn)[8]) {
  for (int s = 0; s < 4; ++s) {
    b[at + s] = static_cast<uint8_t>(sc[s] | ((sc[s + 4] >> 4) << 6));
    b[at + 4 + s] = static_cast<uint8_t>(mn[s] | ((mn[s + 4] >> 4) << 6));
    b[at + 8 + s] = static_cast<uint8_t>((sc[s + 4] & 0xF) | ((mn[s + 4] & 0xF) << 4));
  }
}

TEST(FormatGgufKnownBlocks, Q4_KScalesMinsAndNibbleHalves) {
  const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
  const int mn[8] = {0, 5, 10, 15, 20, 40, 60, 63};
  std::vector<uint8_t> b(144);
  put_u16(b, 0, kHalfOne);   // d
  put_u16(b, 2, kHalfHalf);  // dmin
  put_k4_scales(b, 4, sc, mn);
  for (int i = 0; i < 128; ++i) b[16 + i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q4_K, b.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, t = (e / 32) % 2, l = e % 32;
    const int q = t == 0 ? l % 16 : 15 - l % 16;
    const int s = 2 * c + t;
    EXPECT_EQ(y[e], static_cast<float>(sc[s] * q) - 0.5f * static_cast<float>(mn[s])) << e;
  }
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[192], -30.0f);  // sub-block 6: q 0, min 60 * 0.5
  EXPECT_EQ(y[193], 20.0f);   // 50 * 1 - 30
  EXPECT_EQ(y[224], 913.5f);  // sub-block 7: 63 * 15 - 31.5
  EXPECT_EQ(y[255], -31.5f);
}

// Q6_K codes u(e) written with the spec's element formula (§4.3).
void put_q6_k_code(std::vector<uint8_t>& b, int e, int u) {
  const int h = e / 128, k = (e / 32) % 4, l = e % 32;
  const int ql_index = 64 * h + (k % 2 == 1 ? 32 : 0) + l;
  if (k < 2)
    b[ql_index] = static_cast<uint8_t>((b[ql_index] & 0xF0) | (u & 0xF));
  else
    b[ql_index] = static_cast<uint8_t>((b[ql_index] & 0x0F) | ((u & 0xF) << 4));
  b[128 + 32 * h + l] = static_cast<uint8_t>(b[128 + 32 * h + l] | ((u >> 4) << (2 * k)));
}

TEST(FormatGgufKnownBlocks, Q6_KSignedScalesAndSixBitCodes) {
  std::vector<uint8_t> b(210);
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(s - 8));
  put_u16(b, 208, kHalfHalf);
  auto code = [](int e) { return (e * 37 + 11) % 64; };
  for (int e = 0; e < 256; ++e) put_q6_k_code(b, e, code(e));
  const auto y = format().dequantize_ok(HEARTH_DTYPE_Q6_K, b.data(), 256);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(y[e], 0.5f * static_cast<float>(e / 16 - 8) * static_cast<float>(code(e) - 32)) << e;
  EXPECT_EQ(y[0], 84.0f);    // 0.5 * -8 * (11 - 32)
  EXPECT_EQ(y[40], 39.0f);   // 0.5 * -6 * (19 - 32)
  EXPECT_EQ(y[130], 0.0f);   // scale 0
  EXPECT_EQ(y[255], 21.0f);  // 0.5 * 7 * (38 - 32)
}

TEST(FormatGgufKnownBlocks, FloatTypes) {
  const uint16_t f16[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};  // 1, -2, smallest subnormal, 65504
  const auto a = format().dequantize_ok(HEARTH_DTYPE_F16, f16, 4);
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(a[1], -2.0f);
  EXPECT_EQ(a[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(a[3], 65504.0f);
  const uint16_t bf16[2] = {0x3F80, 0xC0A0};  // 1, -5
  const auto c = format().dequantize_ok(HEARTH_DTYPE_BF16, bf16, 2);
  EXPECT_EQ(c[0], 1.0f);
  EXPECT_EQ(c[1], -5.0f);
  const float f32[2] = {3.25f, -0.0f};
  const auto d = format().dequantize_ok(HEARTH_DTYPE_F32, f32, 2);
  EXPECT_EQ(std::memcmp(d.data(), f32, sizeof f32), 0);

  // Round to nearest even on the way back: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  const std::vector<float> x = {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11)};
  const auto h = format().quantize_ok(HEARTH_DTYPE_F16, x, 1, 2);
  EXPECT_EQ(get_u16(h, 0), 0x3C00);
  EXPECT_EQ(get_u16(h, 2), 0x3C02);
  const auto bh = format().quantize_ok(HEARTH_DTYPE_BF16, {1.0f + std::ldexp(1.0f, -8)}, 1, 1);
  EXPECT_EQ(get_u16(bh, 0), 0x3F80);
}

// ------------------------------------------------------------------ random blocks vs spec §4

// Dequantizes one block with the element formulas of shared/specs/gguf.md §4, written
// independently of the plugin (index arithmetic per element, not ggml's loops).
float spec_element(hearth_dtype dtype, const std::vector<uint8_t>& b, int e) {
  auto nib = [&](size_t at, int i) { return i < 16 ? (b[at + i] & 0xF) : (b[at + i - 16] >> 4); };
  auto bit = [&](size_t at, int i) { return (b[at + i / 8] >> (i % 8)) & 1; };
  switch (dtype) {
    case HEARTH_DTYPE_Q4_0:
      return static_cast<float>(nib(2, e) - 8) * h2f(get_u16(b, 0));
    case HEARTH_DTYPE_Q4_1:
      return static_cast<float>(nib(4, e)) * h2f(get_u16(b, 0)) + h2f(get_u16(b, 2));
    case HEARTH_DTYPE_Q5_0:
      return static_cast<float>((nib(6, e) | bit(2, e) << 4) - 16) * h2f(get_u16(b, 0));
    case HEARTH_DTYPE_Q5_1:
      return static_cast<float>(nib(8, e) | bit(4, e) << 4) * h2f(get_u16(b, 0)) +
             h2f(get_u16(b, 2));
    case HEARTH_DTYPE_Q8_0:
      return static_cast<float>(static_cast<int8_t>(b[2 + e])) * h2f(get_u16(b, 0));
    case HEARTH_DTYPE_Q8_1:
      return static_cast<float>(static_cast<int8_t>(b[4 + e])) * h2f(get_u16(b, 0));
    case HEARTH_DTYPE_Q2_K: {
      const int h = e / 128, j = (e / 32) % 4, l = e % 32, s = e / 16;
      const int q = (b[16 + 32 * h + l] >> (2 * j)) & 3;
      return h2f(get_u16(b, 80)) * static_cast<float>(b[s] & 0xF) * static_cast<float>(q) -
             h2f(get_u16(b, 82)) * static_cast<float>(b[s] >> 4);
    }
    case HEARTH_DTYPE_Q3_K: {
      const int h = e / 128, j = (e / 32) % 4, l = e % 32, s = e / 16;
      const int low = s < 8 ? (b[96 + s] & 0xF) : (b[96 + s - 8] >> 4);
      const int high = (b[96 + 8 + s % 4] >> (2 * (s / 4))) & 3;
      const int lo2 = (b[32 + 32 * h + l] >> (2 * j)) & 3;
      const int hb = (b[l] >> (4 * h + j)) & 1;
      return h2f(get_u16(b, 108)) * static_cast<float>((low | high << 4) - 32) *
             static_cast<float>(lo2 - (hb ? 0 : 4));
    }
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K: {
      const int c = e / 64, t = (e / 32) % 2, l = e % 32, s = 2 * c + t;
      const size_t sb = 4;  // scales
      const int sc = s < 4 ? b[sb + s] & 63 : (b[sb + s + 4] & 0xF) | ((b[sb + s - 4] >> 6) << 4);
      const int mn = s < 4 ? b[sb + s + 4] & 63 : (b[sb + s + 4] >> 4) | ((b[sb + s] >> 6) << 4);
      const bool five = dtype == HEARTH_DTYPE_Q5_K;
      const size_t qs = five ? 48 : 16;
      int q = t == 0 ? (b[qs + 32 * c + l] & 0xF) : (b[qs + 32 * c + l] >> 4);
      if (five) q += 16 * ((b[16 + l] >> (2 * c + t)) & 1);
      return h2f(get_u16(b, 0)) * static_cast<float>(sc) * static_cast<float>(q) -
             h2f(get_u16(b, 2)) * static_cast<float>(mn);
    }
    case HEARTH_DTYPE_Q6_K: {
      const int h = e / 128, k = (e / 32) % 4, l = e % 32;
      const int ql = b[64 * h + (k % 2 ? 32 : 0) + l];
      const int lo4 = k < 2 ? ql & 0xF : ql >> 4;
      const int hi2 = (b[128 + 32 * h + l] >> (2 * k)) & 3;
      return h2f(get_u16(b, 208)) * static_cast<float>(static_cast<int8_t>(b[192 + e / 16])) *
             static_cast<float>((lo4 | hi2 << 4) - 32);
    }
    case HEARTH_DTYPE_Q8_K: {
      float d;
      std::memcpy(&d, &b[0], 4);
      return d * static_cast<float>(static_cast<int8_t>(b[4 + e]));
    }
    default:
      ADD_FAILURE() << "no spec formula for dtype " << dtype;
      return 0;
  }
}

// Byte offsets of each block type's fp16 scale fields (randomised to finite values).
std::vector<size_t> half_fields(hearth_dtype dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_Q4_0:
    case HEARTH_DTYPE_Q5_0:
    case HEARTH_DTYPE_Q8_0:
      return {0};
    case HEARTH_DTYPE_Q4_1:
    case HEARTH_DTYPE_Q5_1:
    case HEARTH_DTYPE_Q8_1:
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K:
      return {0, 2};
    case HEARTH_DTYPE_Q2_K:
      return {80, 82};
    case HEARTH_DTYPE_Q3_K:
      return {108};
    case HEARTH_DTYPE_Q6_K:
      return {208};
    default:
      return {};
  }
}

TEST(FormatGgufLayout, RandomBlocksDecodeAsTheSpecFormulasSay) {
  const uint32_t seed = 20250220;
  std::mt19937 rng(seed);
  for (const auto& e : kSpecTypes) {
    if (e.block_elems == 1) continue;
    SCOPED_TRACE(std::string(e.name) + ", seed " + std::to_string(seed));
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<uint8_t> b(e.block_bytes);
      for (auto& byte : b) byte = static_cast<uint8_t>(rng());
      for (size_t at : half_fields(e.dtype)) {
        // Sign, exponent 10..25 (2^-5 .. 2^10), any mantissa: finite and normal.
        const uint16_t h = static_cast<uint16_t>((rng() & 0x83FF) | ((10 + rng() % 16) << 10));
        put_u16(b, at, h);
      }
      if (e.dtype == HEARTH_DTYPE_Q8_K) {
        const float d = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 256.0f;
        std::memcpy(&b[0], &d, 4);
      }
      const auto y = format().dequantize_ok(e.dtype, b.data(), e.block_elems);
      for (uint32_t i = 0; i < e.block_elems; ++i) {
        const float expected = spec_element(e.dtype, b, static_cast<int>(i));
        ASSERT_EQ(std::memcmp(&y[i], &expected, 4), 0)
            << "element " << i << ": plugin " << y[i] << ", spec " << expected;
      }
    }
  }
}

TEST(FormatGgufLayout, DequantizeReadsUnalignedSources) {
  const auto x = make_weights(7, 1, 512);
  const auto q = format().quantize_ok(HEARTH_DTYPE_Q4_K, x, 1, 512);
  std::vector<uint8_t> shifted{0xA5};  // one byte in front puts the copy off alignment
  shifted.insert(shifted.end(), q.begin(), q.end());
  const auto aligned = format().dequantize_ok(HEARTH_DTYPE_Q4_K, q.data(), 512);
  const auto unaligned = format().dequantize_ok(HEARTH_DTYPE_Q4_K, shifted.data() + 1, 512);
  EXPECT_EQ(aligned, unaligned);
}

// ------------------------------------------------------------------ 2. round trip

struct RoundTripBound {
  hearth_dtype dtype;
  double max_relative_rms;  // quantize -> dequantize; README.md's table: measured x ~1.2
  // quantize(dequantize(q)) against dequantize(q): 0 means the values come back bit for bit;
  // otherwise the largest relative RMS change (the K-quant searches may settle on other scales).
  double max_requantize_change;
  bool uses_importance;
};

// Bounds for make_weights(seed, 64, 512); plugins/format-gguf/README.md has the measured values.
const RoundTripBound kRoundTripBounds[] = {
    {HEARTH_DTYPE_F32, 0.0, 0.0, false},     {HEARTH_DTYPE_F16, 0.00025, 0.0, false},
    {HEARTH_DTYPE_BF16, 0.002, 0.0, false},  {HEARTH_DTYPE_Q8_0, 0.01, 0.0, false},
    {HEARTH_DTYPE_Q8_1, 0.01, 0.0, false},   {HEARTH_DTYPE_Q5_0, 0.08, 0.0, true},
    {HEARTH_DTYPE_Q5_1, 0.055, 0.0, true},   {HEARTH_DTYPE_Q4_0, 0.16, 0.0, true},
    {HEARTH_DTYPE_Q4_1, 0.11, 0.0, true},    {HEARTH_DTYPE_Q2_K, 0.385, 0.085, true},
    {HEARTH_DTYPE_Q3_K, 0.22, 0.035, true},  {HEARTH_DTYPE_Q4_K, 0.105, 0.006, true},
    {HEARTH_DTYPE_Q5_K, 0.052, 0.01, true},  {HEARTH_DTYPE_Q6_K, 0.03, 0.003, true},
    {HEARTH_DTYPE_Q8_K, 0.025, 1e-6, false},
};

constexpr uint32_t kRoundTripSeed = 1234567;
constexpr int64_t kRows = 64, kCols = 512;

TEST(FormatGgufRoundTrip, ErrorWithinTheDocumentedBound) {
  const auto x = make_weights(kRoundTripSeed, kRows, kCols);
  for (const auto& bound : kRoundTripBounds) {
    const std::string name = format().type(bound.dtype).name;
    SCOPED_TRACE(name + ", seed " + std::to_string(kRoundTripSeed));
    const auto q = format().quantize_ok(bound.dtype, x, kRows, kCols);
    const auto y = format().dequantize_ok(bound.dtype, q.data(), kRows * kCols);
    const double err = relative_rms_error(x, y);
    std::printf("  round trip %-5s relative RMS error %.6f (bound %.5g)\n", name.c_str(), err,
                bound.max_relative_rms);
    EXPECT_LE(err, bound.max_relative_rms);
  }
}

TEST(FormatGgufRoundTrip, RequantizingDequantizedValuesIsStableWhereItHolds) {
  const auto x = make_weights(kRoundTripSeed + 1, kRows, kCols);
  for (const auto& bound : kRoundTripBounds) {
    const std::string name = format().type(bound.dtype).name;
    SCOPED_TRACE(name + ", seed " + std::to_string(kRoundTripSeed + 1));
    const auto q1 = format().quantize_ok(bound.dtype, x, kRows, kCols);
    const auto y1 = format().dequantize_ok(bound.dtype, q1.data(), kRows * kCols);
    const auto q2 = format().quantize_ok(bound.dtype, y1, kRows, kCols);
    const auto y2 = format().dequantize_ok(bound.dtype, q2.data(), kRows * kCols);
    const double change = relative_rms_error(y1, y2);
    std::printf("  requantize %-5s relative RMS change %.3g (bound %.3g)\n", name.c_str(), change,
                bound.max_requantize_change);
    if (bound.max_requantize_change == 0)
      EXPECT_EQ(y1, y2) << "quantize(dequantize(q)) should decode to the same values";
    else
      EXPECT_LE(change, bound.max_requantize_change);
  }
}

// An importance row (as from llama-quantize --imatrix) must lower the importance-weighted error
// of the types that use one, and leave the others' bytes unchanged.
TEST(FormatGgufRoundTrip, ImportanceLowersTheWeightedError) {
  const auto x = make_weights(kRoundTripSeed + 2, kRows, kCols);
  std::vector<float> importance(kCols);
  for (int64_t c = 0; c < kCols; ++c) importance[c] = 1.0f + static_cast<float>(c % 7);
  auto weighted_error = [&](const std::vector<float>& y) {
    double err = 0, ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double w = importance[i % kCols], d = static_cast<double>(x[i]) - y[i];
      err += w * d * d;
      ref += w * x[i] * x[i];
    }
    return std::sqrt(err / ref);
  };
  for (const auto& bound : kRoundTripBounds) {
    const std::string name = format().type(bound.dtype).name;
    SCOPED_TRACE(name + ", seed " + std::to_string(kRoundTripSeed + 2));
    const auto plain = format().quantize_ok(bound.dtype, x, kRows, kCols);
    const auto weighted = format().quantize_ok(bound.dtype, x, kRows, kCols, importance.data());
    const auto y_plain = format().dequantize_ok(bound.dtype, plain.data(), kRows * kCols);
    const auto y_weighted = format().dequantize_ok(bound.dtype, weighted.data(), kRows * kCols);
    std::printf("  importance %-5s weighted relative RMS error %.6f (without: %.6f)\n",
                name.c_str(), weighted_error(y_weighted), weighted_error(y_plain));
    EXPECT_LE(relative_rms_error(x, y_weighted), bound.max_relative_rms);
    if (bound.uses_importance)
      EXPECT_LT(weighted_error(y_weighted), weighted_error(y_plain));
    else
      EXPECT_EQ(plain, weighted);
  }
}

TEST(FormatGgufRoundTrip, QuantizeRowsAreIndependent) {
  // One call over 4 rows gives the bytes of 4 one-row calls, with and without importance (the
  // importance-weighted legacy types use statistics of their own row only, as ggml does).
  const auto x = make_weights(99, 4, 256);
  std::vector<float> importance(256);
  for (int c = 0; c < 256; ++c) importance[c] = 0.5f + static_cast<float>(c % 5);
  const float* no_importance = nullptr;
  const float* some_importance = importance.data();
  for (const float* imp : {no_importance, some_importance}) {
    for (hearth_dtype dtype :
         {HEARTH_DTYPE_Q4_0, HEARTH_DTYPE_Q5_1, HEARTH_DTYPE_Q3_K, HEARTH_DTYPE_Q4_K}) {
      const auto all = format().quantize_ok(dtype, x, 4, 256, imp);
      const int64_t row_bytes = format().row_bytes(dtype, 256);
      for (int64_t r = 0; r < 4; ++r) {
        const std::vector<float> row(x.begin() + r * 256, x.begin() + (r + 1) * 256);
        const auto one = format().quantize_ok(dtype, row, 1, 256, imp);
        EXPECT_EQ(std::memcmp(one.data(), all.data() + r * row_bytes, one.size()), 0)
            << "dtype " << dtype << " row " << r << (imp ? " with importance" : "");
      }
    }
  }
}

TEST(FormatGgufRoundTrip, AllZeroAndConstantBlocks) {
  for (const auto& bound : kRoundTripBounds) {
    const std::string name = format().type(bound.dtype).name;
    SCOPED_TRACE(name);
    const std::vector<float> zeros(256, 0.0f);
    const auto q0 = format().quantize_ok(bound.dtype, zeros, 1, 256);
    for (float v : format().dequantize_ok(bound.dtype, q0.data(), 256)) ASSERT_EQ(v, 0.0f);
    const std::vector<float> constant(256, 0.75f);
    const auto q1 = format().quantize_ok(bound.dtype, constant, 1, 256);
    for (float v : format().dequantize_ok(bound.dtype, q1.data(), 256))
      ASSERT_NEAR(v, 0.75f, 0.05f);
  }
}

// ------------------------------------------------------------------ 4. bad input

TEST(FormatGgufBadInput, UnknownDtypeIsUnsupportedAndNamesTheId) {
  float out[32];
  const uint8_t block[64] = {};
  auto status = format().dequantize(999, block, out, 32);
  EXPECT_EQ(status.code(), HEARTH_ERR_UNSUPPORTED);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("999"), HasSubstr("Q4_K")));

  status = format().dequantize(16, block, out, 32);  // IQ2_XXS: a GGUF type this plugin lacks
  EXPECT_EQ(status.code(), HEARTH_ERR_UNSUPPORTED);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("16"), HasSubstr("IQ2_XXS")));

  const float x[32] = {};
  uint8_t dst[64];
  status = format().quantize(HEARTH_DTYPE_FIRST_HEARTH + 7, x, dst, 1, 32);
  EXPECT_EQ(status.code(), HEARTH_ERR_UNSUPPORTED);
  EXPECT_THAT(status.message(), HasSubstr(std::to_string(HEARTH_DTYPE_FIRST_HEARTH + 7)));
}

TEST(FormatGgufBadInput, CountNotAMultipleOfTheBlockNamesBothNumbers) {
  std::vector<uint8_t> src(1024);
  std::vector<float> out(512);
  auto status = format().dequantize(HEARTH_DTYPE_Q4_K, src.data(), out.data(), 300);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("300"), HasSubstr("256"), HasSubstr("Q4_K")));

  status = format().dequantize(HEARTH_DTYPE_Q8_0, src.data(), out.data(), 33);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("33"), HasSubstr("32")));

  status = format().quantize(HEARTH_DTYPE_Q4_0, out.data(), src.data(), 2, 100);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("100"), HasSubstr("32")));
}

TEST(FormatGgufBadInput, NegativeCountsAndNullPointers) {
  std::vector<uint8_t> src(64);
  std::vector<float> out(64);
  EXPECT_EQ(format().dequantize(HEARTH_DTYPE_Q8_0, src.data(), out.data(), -32).code(),
            HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(format().quantize(HEARTH_DTYPE_Q8_0, out.data(), src.data(), -1, 32).code(),
            HEARTH_ERR_INVALID_ARGUMENT);
  auto status = format().dequantize(HEARTH_DTYPE_Q8_0, nullptr, out.data(), 32);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("null source"));
  status = format().quantize(HEARTH_DTYPE_Q8_0, out.data(), nullptr, 1, 32);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("null destination"));
  // Nothing to do is not an error, even without buffers.
  EXPECT_TRUE(format().dequantize(HEARTH_DTYPE_Q8_0, nullptr, nullptr, 0).ok());
  EXPECT_TRUE(format().quantize(HEARTH_DTYPE_Q8_0, nullptr, nullptr, 0, 32).ok());
}

TEST(FormatGgufBadInput, NonFiniteValuesAreRefusedNamingRowAndColumnAndNothingIsWritten) {
  auto x = make_weights(5, 3, 256);
  x[2 * 256 + 17] = std::numeric_limits<float>::quiet_NaN();
  std::vector<uint8_t> dst(3 * 144, 0xAB);
  auto status = format().quantize(HEARTH_DTYPE_Q4_K, x.data(), dst.data(), 3, 256);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("row 2"), HasSubstr("column 17")));
  EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](uint8_t b) { return b == 0xAB; }));

  x[2 * 256 + 17] = std::numeric_limits<float>::infinity();
  status = format().quantize(HEARTH_DTYPE_Q8_0, x.data(), dst.data(), 3, 256);
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  // The float types represent inf and NaN, so they take them.
  std::vector<uint8_t> f16(3 * 256 * 2);
  EXPECT_TRUE(format().quantize(HEARTH_DTYPE_F16, x.data(), f16.data(), 3, 256).ok());

  std::vector<float> importance(256, 1.0f);
  importance[9] = -1.0f;
  x[2 * 256 + 17] = 0.0f;
  status = format().quantize(HEARTH_DTYPE_Q4_K, x.data(), dst.data(), 3, 256, importance.data());
  EXPECT_EQ(status.code(), HEARTH_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(status.message(), HasSubstr("importance[9]"));
}

TEST(FormatGgufBadInput, DegenerateButFiniteInputsQuantizeWithoutUndefinedBehaviour) {
  // Subnormal and huge magnitudes make ggml's scales overflow or vanish; the results are
  // meaningless but must not crash or trip the sanitizers.
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = (i % 2 ? 1 : -1) * std::ldexp(1.0f, -140 + i % 5);
  std::vector<float> huge(256);
  for (int i = 0; i < 256; ++i) huge[i] = (i % 3 ? 3e38f : -3e38f);
  for (const auto& e : kSpecTypes) {
    SCOPED_TRACE(e.name);
    std::vector<uint8_t> dst(static_cast<size_t>(format().row_bytes(e.dtype, 256)));
    EXPECT_TRUE(format().quantize(e.dtype, x.data(), dst.data(), 1, 256).ok());
    EXPECT_TRUE(format().quantize(e.dtype, huge.data(), dst.data(), 1, 256).ok());
  }
}

}  // namespace
}  // namespace hearth::test

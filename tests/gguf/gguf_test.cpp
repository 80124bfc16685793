// GGUF reader and writer: real files from shared/models, writer round trips, and one test per
// kind of bad input (built in memory, parsed with GgufFile::parse).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hearth/gguf.hpp>
#include <limits>
#include <set>

namespace hearth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kShared = HEARTH_TEST_SHARED_DIR;
const fs::path kStories = kShared / "models" / "stories260K.gguf";

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_K = 12;

std::vector<std::byte> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::vector<std::byte> pattern_bytes(std::size_t n, unsigned seed) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::byte>((i * 31 + seed * 7 + 1) & 0xFF);
  return out;
}

// Parses bytes that must be rejected; returns the GgufError's message ("" if none was thrown).
std::string parse_error(std::span<const std::byte> bytes, const GgufOpenOptions& options = {}) {
  try {
    GgufFile::parse(bytes, "bad.gguf", options);
  } catch (const GgufError& e) {
    return e.what();
  }
  return "";
}

// Little-endian byte builder for files the writer refuses to produce.
class RawGguf {
 public:
  RawGguf& u8(uint8_t v) { return le(v, 1); }
  RawGguf& u16(uint16_t v) { return le(v, 2); }
  RawGguf& u32(uint32_t v) { return le(v, 4); }
  RawGguf& u64(uint64_t v) { return le(v, 8); }
  RawGguf& str(std::string_view s) {
    u64(s.size());
    for (char c : s) u8(static_cast<uint8_t>(c));
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    bytes.insert(bytes.end(), {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}});
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& key(std::string_view k, GgufType type) {
    return str(k).u32(static_cast<uint32_t>(type));
  }
  RawGguf& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(uint64_t alignment = 32) {
    while (bytes.size() % alignment) u8(0);
    return *this;
  }
  RawGguf& zeros(std::size_t n) {
    bytes.resize(bytes.size() + n);
    return *this;
  }
  uint64_t size() const { return bytes.size(); }

  std::vector<std::byte> bytes;

 private:
  RawGguf& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<std::byte>(v >> (8 * i)));
    return *this;
  }
};

// A small valid file: a few keys of several types and three tensors of different types.
GgufWriter sample_writer() {
  GgufWriter w;
  w.set("general.architecture", gguf_string("llama"));
  w.set("llama.context_length", gguf_u32(128));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf_f32(1e-5f));
  w.set("tokenizer.ggml.tokens", gguf_string_array({"<unk>", "<s>", "</s>", "hello"}));
  w.set("tokenizer.ggml.scores", gguf_f32_array({0.f, -1.f, -2.f, -3.5f}));
  w.add_tensor("norm.weight", kF32, {5}, pattern_bytes(20, 1));
  w.add_tensor("blk.0.attn_q.weight", kQ4_0, {64, 2}, pattern_bytes(2 * 2 * 18, 2));
  w.add_tensor("blk.0.odd.weight", kF16, {3, 1}, pattern_bytes(6, 3));
  return w;
}

bool same_value(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type) return false;
  if (a.type == GgufType::FLOAT32 || a.type == GgufType::FLOAT64)  // bitwise: NaN == NaN, -0 != 0
    return std::bit_cast<uint64_t>(*a.as_float()) == std::bit_cast<uint64_t>(*b.as_float());
  if (const GgufArray* x = a.as_array()) {
    const GgufArray* y = b.as_array();
    if (!y || x->element_type != y->element_type || x->values.size() != y->values.size())
      return false;
    for (std::size_t i = 0; i < x->values.size(); ++i)
      if (!same_value(x->values[i], y->values[i])) return false;
    return true;
  }
  if (a.as_string()) return *a.as_string() == *b.as_string();
  if (a.type == GgufType::BOOL) return a.as_bool() == b.as_bool();
  return a.as_int() == b.as_int() && a.as_uint() == b.as_uint();
}

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("hearth-gguf-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

// ------------------------------------------------------------------------------ real files

TEST(GgufReader, OpensStories260K) {
  const GgufFile f = GgufFile::open(kStories);
  EXPECT_EQ(f.name(), kStories.string());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 14176u);
  EXPECT_EQ(f.file_size(), fs::file_size(kStories));

  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_uint("llama.context_length"), 2048u);
  EXPECT_EQ(f.get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_uint("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_uint("llama.block_count"), 5u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 4);
  EXPECT_EQ(f.get_uint("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(f.get_float("llama.attention.layer_norm_rms_epsilon"), static_cast<double>(1e-5f));
  EXPECT_EQ(f.find("llama.attention.layer_norm_rms_epsilon")->type, GgufType::FLOAT32);
  EXPECT_EQ(f.get_uint("tokenizer.ggml.seperator_token_id"), 4294967295u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_uint("no.such.key"), std::nullopt);
  EXPECT_EQ(f.find("no.such.key"), nullptr);
  EXPECT_EQ(f.get_array("no.such.key"), nullptr);

  const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->element_type, GgufType::STRING);
  ASSERT_EQ(tokens->values.size(), 512u);
  EXPECT_EQ(*tokens->values[0].as_string(), "<unk>");
  EXPECT_EQ(*tokens->values[2].as_string(), "</s>");
  const GgufArray* types = f.get_array("tokenizer.ggml.token_type");
  ASSERT_NE(types, nullptr);
  EXPECT_EQ(types->element_type, GgufType::INT32);
  EXPECT_EQ(types->values[0].as_int(), 2);
  EXPECT_EQ(f.get_array("tokenizer.ggml.scores")->element_type, GgufType::FLOAT32);

  const GgufTensorInfo* embd = f.tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, kF32);
  EXPECT_EQ(embd->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->offset, 0u);
  EXPECT_EQ(embd->nbytes, 64u * 512 * 4);
  EXPECT_EQ(embd->n_elements(), 64 * 512);
  const GgufTensorInfo* norm = f.tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->offset, 131072u);
  EXPECT_EQ(norm->ne, (std::vector<int64_t>{64}));
  EXPECT_EQ(f.tensor("blk.0.attn_k.weight")->ne, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(f.tensor("blk.4.ffn_down.weight")->ne, (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(f.tensor("no.such.tensor"), nullptr);
}

TEST(GgufReader, TensorDataIsTheFileBytesInPlace) {
  const GgufFile f = GgufFile::open(kStories);
  const std::vector<std::byte> file = read_file(kStories);
  const std::byte* base = f.tensors()[0].data - f.data_offset() - f.tensors()[0].offset;
  for (const GgufTensorInfo& t : f.tensors()) {
    // One mapping, not copies: every tensor sits at data_offset + offset from the same base,
    // which is page-aligned, so each tensor is aligned to the file's alignment.
    EXPECT_EQ(t.data, base + f.data_offset() + t.offset) << t.name;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data) % f.alignment(), 0u) << t.name;
    ASSERT_LE(f.data_offset() + t.offset + t.nbytes, file.size());
    EXPECT_EQ(std::memcmp(t.data, file.data() + f.data_offset() + t.offset, t.nbytes), 0) << t.name;
  }
}

TEST(GgufReader, OpensEveryModelFile) {
  std::vector<fs::path> files;
  for (const char* dir : {"synthetic", "vocab"})
    for (const auto& entry : fs::directory_iterator(kShared / "models" / dir))
      if (entry.path().extension() == ".gguf") files.push_back(entry.path());
  files.push_back(kShared / "models" / "llama-2-tiny-random.gguf");
  ASSERT_GE(files.size(), 20u);
  for (const fs::path& path : files) {
    SCOPED_TRACE(path.string());
    const GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_GE(f.metadata().size(), 16u);
    const bool vocab = path.parent_path().filename() == "vocab";
    EXPECT_EQ(f.tensors().empty(), vocab);
    const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_GT(tokens->values.size(), 0u);
    EXPECT_NE(tokens->values[0].as_string(), nullptr);
    uint64_t end = f.data_offset();
    for (const GgufTensorInfo& t : f.tensors()) {
      const auto layout = gguf_builtin_type_layout(t.type);
      ASSERT_TRUE(layout) << t.name;
      EXPECT_EQ(t.nbytes,
                static_cast<uint64_t>(t.n_elements()) / layout->block_elems * layout->block_bytes)
          << t.name;
      EXPECT_EQ(t.offset % f.alignment(), 0u);
      end = std::max(end, f.data_offset() + t.offset + t.nbytes);
    }
    if (!vocab) {
      EXPECT_LE(end, f.file_size());
    }
  }
}

TEST(GgufReader, SyntheticModelsHaveTheExpectedTensorTypes) {
  const GgufFile f = GgufFile::open(kShared / "models" / "synthetic" / "llama-small-Q4_K_M.gguf");
  std::set<uint32_t> types;
  for (const auto& t : f.tensors()) types.insert(t.type);
  EXPECT_EQ(types, (std::set<uint32_t>{0, 12, 14}));  // F32, Q4_K, Q6_K
  EXPECT_EQ(f.tensors().size(), 21u);
  EXPECT_EQ(f.data_offset(), 12704u);
}

TEST(GgufTypes, BuiltinLayouts) {
  struct Expected {
    uint32_t id;
    const char* name;
    uint32_t elems, bytes;
  };
  for (const Expected& e : std::vector<Expected>{{0, "F32", 1, 4},
                                                 {1, "F16", 1, 2},
                                                 {2, "Q4_0", 32, 18},
                                                 {3, "Q4_1", 32, 20},
                                                 {6, "Q5_0", 32, 22},
                                                 {7, "Q5_1", 32, 24},
                                                 {8, "Q8_0", 32, 34},
                                                 {10, "Q2_K", 256, 84},
                                                 {11, "Q3_K", 256, 110},
                                                 {12, "Q4_K", 256, 144},
                                                 {13, "Q5_K", 256, 176},
                                                 {14, "Q6_K", 256, 210},
                                                 {15, "Q8_K", 256, 292},
                                                 {23, "IQ4_XS", 256, 136},
                                                 {28, "F64", 1, 8},
                                                 {30, "BF16", 1, 2},
                                                 {34, "TQ1_0", 256, 54},
                                                 {35, "TQ2_0", 256, 66}}) {
    const auto layout = gguf_builtin_type_layout(e.id);
    ASSERT_TRUE(layout) << e.name;
    EXPECT_EQ(layout->name, e.name);
    EXPECT_EQ(layout->block_elems, e.elems) << e.name;
    EXPECT_EQ(layout->block_bytes, e.bytes) << e.name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1100u})
    EXPECT_FALSE(gguf_builtin_type_layout(removed)) << removed;
}

// ------------------------------------------------------------------------------ the writer

GgufValue all_types_value() { return gguf_array(GgufType::UINT8, {gguf_u8(0), gguf_u8(255)}); }

std::vector<std::pair<std::string, GgufValue>> every_kind_of_value() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"t.u8", gguf_u8(255)},
      {"t.i8", gguf_i8(-128)},
      {"t.u16", gguf_u16(65535)},
      {"t.i16", gguf_i16(-32768)},
      {"t.u32", gguf_u32(4294967295u)},
      {"t.i32", gguf_i32(std::numeric_limits<int32_t>::min())},
      {"t.u64", gguf_u64(std::numeric_limits<uint64_t>::max())},
      {"t.i64", gguf_i64(std::numeric_limits<int64_t>::min())},
      {"t.f32", gguf_f32(-0.0f)},
      {"t.f32_nan", gguf_f32(nan)},
      {"t.f32_tiny", gguf_f32(std::numeric_limits<float>::denorm_min())},
      {"t.f64", gguf_f64(3.141592653589793)},
      {"t.bool_true", gguf_bool(true)},
      {"t.bool_false", gguf_bool(false)},
      {"t.string", gguf_string("héllo \xE2\x9C\x93")},
      {"t.string_empty", gguf_string("")},
      {"t.string_nul", gguf_string(std::string("a\0b", 3))},
      {"t.arr_u8", all_types_value()},
      {"t.arr_i8", gguf_array(GgufType::INT8, {gguf_i8(-1), gguf_i8(127)})},
      {"t.arr_u16", gguf_array(GgufType::UINT16, {gguf_u16(1), gguf_u16(65535)})},
      {"t.arr_i16", gguf_array(GgufType::INT16, {gguf_i16(-2)})},
      {"t.arr_u32", gguf_array(GgufType::UINT32, {gguf_u32(7), gguf_u32(8)})},
      {"t.arr_i32", gguf_i32_array({1, -2, 3})},
      {"t.arr_u64", gguf_array(GgufType::UINT64, {gguf_u64(1ull << 63)})},
      {"t.arr_i64", gguf_array(GgufType::INT64, {gguf_i64(-5)})},
      {"t.arr_f32", gguf_f32_array({1.5f, nan, -0.f})},
      {"t.arr_f64", gguf_array(GgufType::FLOAT64, {gguf_f64(-2.25)})},
      {"t.arr_bool", gguf_array(GgufType::BOOL, {gguf_bool(true), gguf_bool(false)})},
      {"t.arr_str", gguf_string_array({"a", "", "c c"})},
      {"t.arr_empty", gguf_array(GgufType::UINT32, {})},
      {"t.nested_str",
       gguf_array(GgufType::ARRAY, {gguf_string_array({"x", "y"}), gguf_string_array({}),
                                    gguf_string_array({"z"})})},
      {"t.nested_3", gguf_array(GgufType::ARRAY, {gguf_array(GgufType::ARRAY, {all_types_value(),
                                                                               all_types_value()}),
                                                  gguf_array(GgufType::ARRAY, {})})},
  };
}

TEST(GgufWriter, RoundTripsEveryValueTypeAndTensorData) {
  GgufWriter w;
  const auto values = every_kind_of_value();
  for (const auto& [key, value] : values) w.set(key, value);
  const auto q4k = pattern_bytes(144 * 2 * 3, 4);
  const auto f32 = pattern_bytes(4 * 7, 5);
  const auto f16 = pattern_bytes(2 * 3, 6);
  w.add_tensor("a.q4k", kQ4_K, {256, 2, 3}, q4k);
  w.add_tensor("b.f32", kF32, {7}, f32);
  w.add_tensor("c.f16", kF16, {1, 3, 1, 1}, f16);
  w.add_tensor("d.empty", kF32, {0, 4}, {});

  const fs::path path = temp_dir() / "round-trip.gguf";
  w.write(path);
  const std::vector<std::byte> bytes = w.to_bytes();
  EXPECT_EQ(read_file(path), bytes);

  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, values[i].first);
    EXPECT_TRUE(same_value(f.metadata()[i].value, values[i].second)) << values[i].first;
  }
  EXPECT_EQ(*f.get_array("t.nested_str")->values[0].as_array()->values[1].as_string(), "y");

  // llama.cpp's layout: data in info order, each padded to the alignment.
  const std::vector<std::vector<std::byte>> data = {q4k, f32, f16, {}};
  uint64_t offset = 0;
  ASSERT_EQ(f.tensors().size(), 4u);
  for (std::size_t i = 0; i < data.size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.offset, offset) << t.name;
    EXPECT_EQ(t.nbytes, data[i].size()) << t.name;
    EXPECT_TRUE(std::equal(data[i].begin(), data[i].end(), t.data)) << t.name;
    offset += (data[i].size() + 31) / 32 * 32;
  }
  EXPECT_EQ(f.tensor("c.f16")->ne, (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.file_size(), f.data_offset() + offset);
  fs::remove_all(path.parent_path());
}

TEST(GgufWriter, NonDefaultAlignmentIsRecordedAndHonoured) {
  GgufWriter w(64);
  w.set("general.name", gguf_string("x"));
  w.add_tensor("a", kF32, {3}, pattern_bytes(12, 1));
  w.add_tensor("b", kF32, {3}, pattern_bytes(12, 2));
  const auto bytes = w.to_bytes();
  const GgufFile f = GgufFile::parse(bytes, "aligned.gguf");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.find("general.alignment")->type, GgufType::UINT32);
  EXPECT_EQ(f.get_uint("general.alignment"), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensor("b")->offset, 64u);

  GgufWriter via_key;
  via_key.set("general.alignment", gguf_u32(128));
  EXPECT_EQ(via_key.alignment(), 128u);
  via_key.add_tensor("a", kF32, {1}, pattern_bytes(4, 1));
  via_key.add_tensor("b", kF32, {1}, pattern_bytes(4, 1));
  const auto bytes2 = via_key.to_bytes();
  EXPECT_EQ(GgufFile::parse(bytes2, "k.gguf").tensor("b")->offset, 128u);
  via_key.remove("general.alignment");
  EXPECT_EQ(via_key.alignment(), 32u);
}

TEST(GgufWriter, SetReplacesInPlaceAndRemoveDeletes) {
  GgufWriter w;
  w.set("a", gguf_u32(1));
  w.set("b", gguf_u32(2));
  w.set("c", gguf_u32(3));
  w.set("a", gguf_string("one"));
  w.remove("b");
  w.remove("not.there");
  const auto bytes = w.to_bytes();
  const GgufFile f = GgufFile::parse(bytes, "w.gguf");
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[0].key, "a");
  EXPECT_EQ(f.get_string("a"), "one");
  EXPECT_EQ(f.metadata()[1].key, "c");
}

TEST(GgufWriter, RejectsWhatTheReaderWouldReject) {
  EXPECT_THROW(GgufWriter(0), GgufError);
  EXPECT_THROW(GgufWriter(48), GgufError);
  GgufWriter w;
  EXPECT_THROW(w.set("general.alignment", gguf_u32(24)), GgufError);
  EXPECT_THROW(w.set("general.alignment", gguf_string("32")), GgufError);
  EXPECT_THROW(w.set("", gguf_u32(1)), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::UINT8, uint64_t{300}}), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::INT8, int64_t{-129}}), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::UINT32, int64_t{-1}}), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::STRING, uint64_t{1}}), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{GgufType::FLOAT32, 1e300}), GgufError);
  EXPECT_THROW(w.set("k", GgufValue{static_cast<GgufType>(13), uint64_t{1}}), GgufError);
  EXPECT_THROW(w.set("k", gguf_array(GgufType::UINT32, {gguf_u32(1), gguf_i32(2)})), GgufError);
  GgufValue deep = gguf_u8(1);
  for (int i = 0; i < 10; ++i) deep = gguf_array(deep.type, {deep});
  try {
    w.set("deep", deep);
    ADD_FAILURE() << "a 10-deep array was accepted";
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'deep'"));
  }

  const auto four = pattern_bytes(4, 1);
  EXPECT_THROW(w.add_tensor("t", kF32, {2}, four), GgufError);                   // wrong size
  EXPECT_THROW(w.add_tensor("t", kF32, {1, 1, 1, 1, 1}, four), GgufError);       // 5 dims
  EXPECT_THROW(w.add_tensor("t", kF32, {}, four), GgufError);                    // 0 dims
  EXPECT_THROW(w.add_tensor("t", kF32, {-1}, four), GgufError);                  // negative
  EXPECT_THROW(w.add_tensor("t", kQ4_0, {16}, pattern_bytes(9, 1)), GgufError);  // half block
  EXPECT_THROW(w.add_tensor("t", 4, {1}, four), GgufError);                      // removed id
  EXPECT_THROW(w.add_tensor("t", 999, {1}, four), GgufError);                    // unknown id
  EXPECT_THROW(w.add_tensor("", kF32, {1}, four), GgufError);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), kF32, {1}, four), GgufError);
  w.add_tensor(std::string(63, 'n'), kF32, {1}, four);
  EXPECT_THROW(w.add_tensor(std::string(63, 'n'), kF32, {1}, four), GgufError);  // duplicate
  EXPECT_THROW(w.add_tensor("big", kF32, {1ll << 32, 1ll << 32}, four), GgufError);
}

TEST(GgufWriter, WriteIsAtomicAndReportsThePath) {
  const fs::path dir = temp_dir() / "atomic";
  fs::create_directories(dir);
  const fs::path path = dir / "model.gguf";
  {
    std::ofstream old(path);
    old << "old contents";
  }
  GgufWriter w = sample_writer();
  w.write(path);
  EXPECT_EQ(GgufFile::open(path).tensors().size(), 3u);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";

  const fs::path missing = dir / "no-such-dir" / "m.gguf";
  try {
    w.write(missing);
    ADD_FAILURE() << "writing into a missing directory succeeded";
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing.string()));
  }
  fs::remove_all(dir.parent_path());
}

TEST(GgufWriter, PluginTypesNeedTheirLayout) {
  GgufOpenOptions plugin;
  plugin.extra_types = [](uint32_t id) -> std::optional<GgufTypeLayout> {
    if (id == 1100) return GgufTypeLayout{"HX4", 64, 40};
    return std::nullopt;
  };
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("p", 1100, {128, 2}, pattern_bytes(160, 1)), GgufError);
  w.add_tensor("p", 1100, {128, 2}, pattern_bytes(160, 1), plugin);
  const auto bytes = w.to_bytes();

  const std::string error = parse_error(bytes);
  EXPECT_THAT(error, HasSubstr("tensor 'p'"));
  EXPECT_THAT(error, HasSubstr("unknown tensor type id 1100"));
  EXPECT_THAT(error, HasSubstr("plugin"));

  const GgufFile f = GgufFile::parse(bytes, "plugin.gguf", plugin);
  EXPECT_EQ(f.tensor("p")->nbytes, 160u);
  EXPECT_EQ(f.tensor("p")->type, 1100u);

  GgufOpenOptions broken;
  broken.extra_types = [](uint32_t) {
    return std::optional<GgufTypeLayout>(GgufTypeLayout{"Z", 0, 4});
  };
  EXPECT_THAT(parse_error(bytes, broken), HasSubstr("empty block layout"));
}

// ------------------------------------------------------------------------------ typed getters

TEST(GgufReader, TypedGettersNameTheKeyAndTypes) {
  GgufWriter w;
  w.set("s", gguf_string("text"));
  w.set("neg", gguf_i32(-3));
  w.set("huge", gguf_u64(std::numeric_limits<uint64_t>::max()));
  w.set("i8", gguf_i8(-7));
  w.set("flag", gguf_bool(true));
  const auto bytes = w.to_bytes();
  const GgufFile f = GgufFile::parse(bytes, "getters.gguf");
  try {
    (void)f.get_uint("s");
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr("getters.gguf"));
    EXPECT_THAT(e.what(), HasSubstr("'s'"));
    EXPECT_THAT(e.what(), HasSubstr("STRING"));
    EXPECT_THAT(e.what(), HasSubstr("byte 24"));  // first key starts right after the header
  }
  EXPECT_THROW((void)f.get_uint("neg"), GgufError);
  EXPECT_EQ(f.get_int("neg"), -3);
  EXPECT_EQ(f.get_float("neg"), -3.0);
  EXPECT_THROW((void)f.get_int("huge"), GgufError);
  EXPECT_EQ(f.get_uint("huge"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f.get_int("i8"), -7);
  EXPECT_EQ(f.get_bool("flag"), true);
  EXPECT_THROW((void)f.get_bool("i8"), GgufError);
  EXPECT_THROW((void)f.get_string("flag"), GgufError);
  EXPECT_THROW((void)f.get_float("s"), GgufError);
  EXPECT_THROW((void)f.get_array("s"), GgufError);
}

// ------------------------------------------------------------------------------ bad input

TEST(GgufBadInput, TruncatedAtEveryByteIsAnErrorNamingTheCut) {
  const auto bytes = sample_writer().to_bytes();
  const GgufFile whole = GgufFile::parse(bytes, "whole.gguf");
  uint64_t data_end = 0;
  for (const auto& t : whole.tensors())
    data_end = std::max(data_end, whole.data_offset() + t.offset + t.nbytes);
  ASSERT_GT(data_end, whole.data_offset());
  for (uint64_t cut = 0; cut < data_end; ++cut) {
    const std::string error = parse_error(std::span(bytes).first(cut));
    ASSERT_FALSE(error.empty()) << "a file cut at byte " << cut << " was accepted";
    EXPECT_THAT(error, HasSubstr("bad.gguf: ")) << cut;
    EXPECT_THAT(error, HasSubstr("truncated")) << cut;
    EXPECT_THAT(error, HasSubstr("truncated at byte " + std::to_string(cut))) << error;
  }
  // Cutting only the final tensor's padding leaves a valid file.
  for (uint64_t cut = data_end; cut <= bytes.size(); ++cut)
    EXPECT_EQ(parse_error(std::span(bytes).first(cut)), "") << cut;
}

TEST(GgufBadInput, TruncatedInfosAndDataNameTheTensor) {
  const auto bytes = sample_writer().to_bytes();
  const GgufFile whole = GgufFile::parse(bytes, "whole.gguf");
  const GgufTensorInfo& q = *whole.tensor("blk.0.attn_q.weight");
  // Cut in the middle of its shape: the message names the tensor being read.
  const std::string in_info =
      parse_error(std::span(bytes).first(q.info_offset + 8 + q.name.size() + 6));
  EXPECT_THAT(in_info, HasSubstr("tensor 'blk.0.attn_q.weight' info"));
  EXPECT_THAT(in_info, HasSubstr("re-download or re-convert"));
  // Cut inside its data.
  const uint64_t in_data = whole.data_offset() + q.offset + 10;
  const std::string past_end = parse_error(std::span(bytes).first(in_data));
  EXPECT_THAT(past_end, HasSubstr("truncated"));
  EXPECT_THAT(past_end, HasSubstr("'blk.0.attn_q.weight'"));
}

TEST(GgufBadInput, StoriesHeaderCutAnywhereIsAnError) {
  const auto bytes = read_file(kStories);
  // Every byte of the fixed header, then a stride through the keys and tensor infos (the
  // sample-file test above cuts at every byte).
  for (uint64_t cut = 0; cut <= 14176; cut += cut < 64 ? 1 : 13) {
    if (!parse_error(std::span(bytes).first(cut)).empty()) continue;
    ADD_FAILURE() << "stories260K cut at byte " << cut << " was accepted";
    break;
  }
}

TEST(GgufBadInput, WrongMagic) {
  auto bytes = sample_writer().to_bytes();
  bytes[3] = std::byte{'G'};
  const std::string error = parse_error(bytes);
  EXPECT_THAT(error, HasSubstr("bad.gguf: not a GGUF file"));
  EXPECT_THAT(error, HasSubstr("47 47 55 47"));
  EXPECT_THAT(error, HasSubstr("(at byte 0,"));
}

TEST(GgufBadInput, UnknownAndRefusedVersions) {
  for (uint32_t version : {0u, 4u, 77u}) {
    RawGguf raw;
    raw.header(0, 0, version);
    const std::string error = parse_error(raw.bytes);
    EXPECT_THAT(error, HasSubstr("unknown GGUF version " + std::to_string(version)));
    EXPECT_THAT(error, HasSubstr("(at byte 4,"));
  }
  RawGguf v1;
  v1.header(0, 0, 1);
  EXPECT_THAT(parse_error(v1.bytes), HasSubstr("version 1 is no longer supported"));
  RawGguf big_endian;
  big_endian.header(0, 0, 0x03000000);
  EXPECT_THAT(parse_error(big_endian.bytes), HasSubstr("big-endian"));
  RawGguf v2;
  v2.header(0, 1, 2).key("general.name", GgufType::STRING).str("old");
  const GgufFile f = GgufFile::parse(v2.bytes, "v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.get_string("general.name"), "old");
}

TEST(GgufBadInput, TensorDataPastTheEnd) {
  RawGguf raw;
  raw.header(2, 0).tensor("fits", {8}, kF32, 0).tensor("too.long", {64}, kF32, 32);
  const uint64_t offset_field = raw.size() - 8;
  raw.pad().zeros(32 + 100);  // "too.long" needs 256 bytes from data offset 32
  const std::string error = parse_error(raw.bytes);
  EXPECT_THAT(error, HasSubstr("'too.long'"));
  EXPECT_THAT(error, HasSubstr("runs past the end of the file"));
  EXPECT_THAT(error, HasSubstr("(at byte " + std::to_string(offset_field) + ","));

  RawGguf wraps;  // offset chosen so data_offset + offset wraps around 2^64
  wraps.header(1, 0).tensor("wrap", {8}, kF32, 0xFFFFFFFFFFFFFFE0ull).pad().zeros(64);
  EXPECT_THAT(parse_error(wraps.bytes), HasSubstr("overflows 64 bits"));
}

TEST(GgufBadInput, OverlappingTensors) {
  RawGguf raw;
  raw.header(3, 0)
      .tensor("a", {16}, kF32, 0)   // bytes 0..64
      .tensor("b", {8}, kF32, 64)   // 64..96
      .tensor("c", {8}, kF32, 32);  // 32..64: inside "a"
  raw.pad().zeros(96);
  const std::string error = parse_error(raw.bytes);
  EXPECT_THAT(error, HasSubstr("'a'"));
  EXPECT_THAT(error, HasSubstr("'c'"));
  EXPECT_THAT(error, HasSubstr("overlap"));

  RawGguf same;
  same.header(2, 0).tensor("x", {8}, kF32, 0).tensor("y", {8}, kF32, 0).pad().zeros(32);
  EXPECT_THAT(parse_error(same.bytes), HasSubstr("overlap"));

  RawGguf empty_ok;  // a zero-size tensor overlaps nothing
  empty_ok.header(2, 0).tensor("x", {8}, kF32, 0).tensor("none", {0}, kF32, 0).pad().zeros(32);
  EXPECT_EQ(parse_error(empty_ok.bytes), "");
}

TEST(GgufBadInput, DimensionProductOverflow) {
  RawGguf elements;
  elements.header(1, 0).tensor("huge", {1ull << 32, 1ull << 32}, kF32, 0).pad();
  std::string error = parse_error(elements.bytes);
  EXPECT_THAT(error, HasSubstr("'huge'"));
  EXPECT_THAT(error, HasSubstr("overflows"));
  EXPECT_THAT(error, HasSubstr("(at byte 36,"));  // its n_dims field: 24 header + 8 + "huge"

  RawGguf negative;
  negative.header(1, 0).tensor("neg", {1ull << 63}, kF32, 0).pad();
  EXPECT_THAT(parse_error(negative.bytes), HasSubstr("negative"));

  RawGguf bytes_overflow;  // 2^61 elements fit int64, but 2^61 * 8 bytes do not fit 64 bits
  bytes_overflow.header(1, 0).tensor("f64", {1ull << 31, 1ull << 30}, 28, 0).pad();
  error = parse_error(bytes_overflow.bytes);
  EXPECT_THAT(error, HasSubstr("byte size"));
  EXPECT_THAT(error, HasSubstr("'f64'"));
}

TEST(GgufBadInput, UnknownAndRemovedTypeIds) {
  RawGguf unknown;
  unknown.header(1, 0).tensor("w", {32}, 9999, 0);
  const uint64_t type_field = unknown.size() - 12;
  unknown.pad().zeros(128);
  const std::string error = parse_error(unknown.bytes);
  EXPECT_THAT(error, HasSubstr("unknown tensor type id 9999"));
  EXPECT_THAT(error, HasSubstr("tensor 'w' info"));
  EXPECT_THAT(error, HasSubstr("(at byte " + std::to_string(type_field) + ","));

  RawGguf removed;
  removed.header(1, 0).tensor("w", {32}, 4, 0).pad().zeros(128);
  EXPECT_THAT(parse_error(removed.bytes), HasSubstr("(Q4_2) was removed"));

  RawGguf partial_block;
  partial_block.header(1, 0).tensor("w", {16}, kQ4_0, 0).pad().zeros(32);
  EXPECT_THAT(parse_error(partial_block.bytes), HasSubstr("not a multiple of the block size 32"));
}

TEST(GgufBadInput, StringLengthPastTheEnd) {
  RawGguf value;
  value.header(0, 1).key("general.name", GgufType::STRING).u64(1000).zeros(10);
  std::string error = parse_error(value.bytes);
  EXPECT_THAT(error, HasSubstr("length 1000 runs past the end"));
  EXPECT_THAT(error, HasSubstr("key 'general.name'"));
  EXPECT_THAT(error, HasSubstr("(at byte 48,"));  // 24 header + 8 + 12 key + 4 type

  RawGguf key;
  key.header(0, 1).u64(0xFFFFFFFFFFFFFFFFull).zeros(20);
  error = parse_error(key.bytes);
  EXPECT_THAT(error, HasSubstr("key length"));
  EXPECT_THAT(error, HasSubstr("metadata key #0"));

  RawGguf name;
  name.header(1, 0).u64(1ull << 40).zeros(40);
  EXPECT_THAT(parse_error(name.bytes), HasSubstr("tensor #0 info"));

  RawGguf in_array;
  in_array.header(0, 1).key("tokens", GgufType::ARRAY).u32(8).u64(2).str("ok").u64(99).zeros(3);
  EXPECT_THAT(parse_error(in_array.bytes), HasSubstr("key 'tokens'"));
}

TEST(GgufBadInput, MisalignedTensorOffset) {
  RawGguf raw;
  raw.header(1, 0).tensor("w", {4}, kF32, 16);
  const uint64_t offset_field = raw.size() - 8;
  raw.pad().zeros(64);
  const std::string error = parse_error(raw.bytes);
  EXPECT_THAT(error, HasSubstr("offset 16 is not a multiple of the alignment 32"));
  EXPECT_THAT(error, HasSubstr("tensor 'w'"));
  EXPECT_THAT(error, HasSubstr("(at byte " + std::to_string(offset_field) + ","));
}

TEST(GgufBadInput, BadDimensionCounts) {
  for (uint32_t n_dims : {0u, 5u}) {
    RawGguf raw;
    raw.header(1, 0).str("w").u32(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) raw.u64(1);
    raw.u32(kF32).u64(0).pad().zeros(32);
    const std::string error = parse_error(raw.bytes);
    EXPECT_THAT(error, HasSubstr("n_dims is " + std::to_string(n_dims)));
    EXPECT_THAT(error, HasSubstr("tensor 'w'"));
  }
}

TEST(GgufBadInput, BadAlignmentValues) {
  const auto with_alignment = [](auto write_value) {
    RawGguf raw;
    raw.header(0, 1);
    write_value(raw);
    return parse_error(raw.bytes);
  };
  for (uint32_t bad : {0u, 48u, 3u}) {
    const std::string error =
        with_alignment([&](RawGguf& r) { r.key("general.alignment", GgufType::UINT32).u32(bad); });
    EXPECT_THAT(error, HasSubstr("general.alignment is " + std::to_string(bad)));
    EXPECT_THAT(error, HasSubstr("power of two"));
    EXPECT_THAT(error, HasSubstr("(at byte 24,"));
  }
  EXPECT_THAT(
      with_alignment([](RawGguf& r) { r.key("general.alignment", GgufType::STRING).str("32"); }),
      HasSubstr("has type STRING"));
  EXPECT_THAT(with_alignment(
                  [](RawGguf& r) { r.key("general.alignment", GgufType::UINT64).u64(1ull << 32); }),
              HasSubstr("fits in 32 bits"));
  // Any integer type holding a valid power of two is accepted (the spec says readers should).
  RawGguf ok;
  ok.header(0, 1).key("general.alignment", GgufType::UINT64).u64(16);
  EXPECT_EQ(GgufFile::parse(ok.bytes, "ok.gguf").alignment(), 16u);
}

TEST(GgufBadInput, DuplicateKeysAndTensorNames) {
  RawGguf keys;
  keys.header(0, 2).key("a.b", GgufType::UINT8).u8(1);
  const uint64_t second = keys.size();
  keys.key("a.b", GgufType::UINT8).u8(2);
  std::string error = parse_error(keys.bytes);
  EXPECT_THAT(error, HasSubstr("duplicate key 'a.b' (first at byte 24)"));
  EXPECT_THAT(error, HasSubstr("(at byte " + std::to_string(second) + ","));

  RawGguf tensors;
  tensors.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad().zeros(64);
  error = parse_error(tensors.bytes);
  EXPECT_THAT(error, HasSubstr("duplicate tensor name 'w'"));
}

TEST(GgufBadInput, InvalidMetadataValues) {
  RawGguf bad_bool;
  bad_bool.header(0, 1).key("flag", GgufType::BOOL).u8(2);
  EXPECT_THAT(parse_error(bad_bool.bytes), HasSubstr("bool value 2"));

  RawGguf bad_type;
  bad_type.header(0, 1).key("k", GgufType::UINT8).zeros(1);
  bad_type.bytes[24 + 8 + 1] = std::byte{13};
  EXPECT_THAT(parse_error(bad_type.bytes), HasSubstr("unknown metadata value type 13"));

  RawGguf bad_element;
  bad_element.header(0, 1).key("k", GgufType::ARRAY).u32(42).u64(0);
  EXPECT_THAT(parse_error(bad_element.bytes), HasSubstr("unknown metadata value type 42"));

  // A huge element count must be refused before anything is allocated for it.
  RawGguf huge_array;
  huge_array.header(0, 1).key("k", GgufType::ARRAY).u32(0).u64(1ull << 60).zeros(16);
  EXPECT_THAT(parse_error(huge_array.bytes), HasSubstr("array length 1152921504606846976"));

  RawGguf huge_counts;
  huge_counts.header(0xFFFFFFFFull, 0xFFFFFFFFFFull).zeros(64);
  EXPECT_THAT(parse_error(huge_counts.bytes), HasSubstr("promises 1099511627775 metadata keys"));
  RawGguf huge_tensors;
  huge_tensors.header(1ull << 40, 0).zeros(64);
  EXPECT_THAT(parse_error(huge_tensors.bytes), HasSubstr("promises 1099511627776 tensor infos"));

  // Arrays nested deeper than the reader allows (each level: element type ARRAY, count 1).
  RawGguf deep;
  deep.header(0, 1).key("deep", GgufType::ARRAY);
  for (int i = 0; i < 100; ++i) deep.u32(static_cast<uint32_t>(GgufType::ARRAY)).u64(1);
  EXPECT_THAT(parse_error(deep.bytes), HasSubstr("nested more than"));
}

TEST(GgufBadInput, OpenReportsUnreadablePaths) {
  const fs::path dir = temp_dir();
  try {
    GgufFile::open(dir / "missing.gguf");
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.gguf: cannot open"));
  }
  EXPECT_THROW(GgufFile::open(dir), GgufError);
  const fs::path empty = dir / "empty.gguf";
  { std::ofstream touch(empty); }
  try {
    GgufFile::open(empty);
    ADD_FAILURE();
  } catch (const GgufError& e) {
    EXPECT_THAT(e.what(), HasSubstr("truncated at byte 0"));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth

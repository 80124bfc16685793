// GGUF files (versions 2 and 3): a memory-mapped, bounds-checked reader and a writer that
// produces llama.cpp's exact layout. Spec: shared/specs/gguf.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hearth {

// Thrown for every malformed or unreadable file (and by the writer for values it cannot write).
// what() names the file, the byte offset and (where there is one) the key or tensor, says what
// was wrong and what to do.
class GgufError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GGUF metadata value types (on-disk ids).
enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12
};
std::string_view gguf_type_name(GgufType type);

struct GgufArray;

// One metadata value. Integers keep their on-disk type; arrays may nest (the spec allows it;
// llama.cpp does not, and our writer never writes nested arrays).
struct GgufValue {
  GgufType type = GgufType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> data;

  // Any integer type whose value fits; nullopt otherwise (wrong type or out of range).
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_float() const;  // FLOAT32/FLOAT64 (and integers, converted)
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;
  const GgufArray* as_array() const;
};

struct GgufArray {
  GgufType element_type = GgufType::UINT8;
  std::vector<GgufValue> values;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
  uint64_t offset = 0;  // byte offset of the key in the file, for error messages
};

// Block layout of a tensor type: how many elements one block holds and its size in bytes.
struct GgufTypeLayout {
  std::string name;  // "Q4_K"
  uint32_t block_elems = 1;
  uint32_t block_bytes = 4;
};

// Layouts of the ggml types GGUF files carry: F32, F16, BF16, Q4_0 ... Q8_K, I8..F64, and the
// IQ*/TQ*/MXFP4 types (so files holding them open and can be inspected; whether a type can be
// dequantized is up to the format plugins). nullopt for removed ids (4, 5, 31-33, 36-38) and
// unknown ids.
std::optional<GgufTypeLayout> gguf_builtin_type_layout(uint32_t type);

struct GgufTensorInfo {
  std::string name;
  uint32_t type = 0;
  std::vector<int64_t> ne;  // n_dims entries, ne[0] innermost
  uint64_t offset = 0;      // relative to the data section, as stored
  uint64_t nbytes = 0;
  uint64_t info_offset = 0;         // where this tensor's info starts in the file
  const std::byte* data = nullptr;  // into the mapping; valid while the GgufFile lives
  int64_t n_elements() const;
};

// Limits: ggml's dimension count, a nesting cap (so hostile files cannot exhaust the stack),
// the spec's key length, and the tensor-name length the writer allows (llama.cpp's).
inline constexpr uint32_t kGgufMaxDims = 4;
inline constexpr uint32_t kGgufMaxArrayDepth = 8;         // arrays nested inside arrays
inline constexpr uint64_t kGgufMaxKeyBytes = 65535;       // spec limit on key length
inline constexpr uint64_t kGgufMaxWrittenNameBytes = 63;  // llama.cpp's GGML_MAX_NAME - 1

struct GgufOpenOptions {
  // Layouts for type ids the built-in table does not know (Hearth's own formats, from format
  // plugins). Without it, such ids are errors.
  std::function<std::optional<GgufTypeLayout>(uint32_t)> extra_types;
};

// A parsed GGUF file. Tensor data is not copied: GgufTensorInfo::data points into a read-only
// memory mapping (open) or into the caller's bytes (parse). Validation covers: magic, version
// 2/3, every metadata value (types, lengths, bool values, nesting), duplicate keys and tensor
// names, general.alignment (nonzero power of two), n_dims 1..4, known type ids, rows of whole
// blocks, element/byte counts without overflow, tensor offsets aligned, data inside the file and
// no two tensors overlapping.
class GgufFile {
 public:
  // Maps the file read-only and validates the header, every key/value and every tensor info
  // (alignment, bounds, overlaps, overflow). Throws GgufError.
  static GgufFile open(const std::filesystem::path& path, const GgufOpenOptions& options = {});
  // The same, over bytes in memory (the fuzz target and tests use this); bytes must outlive
  // the returned object. name is used in error messages.
  static GgufFile parse(std::span<const std::byte> bytes, std::string name,
                        const GgufOpenOptions& options = {});

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& name() const;  // the path or the name given to parse()
  uint32_t version() const;
  uint32_t alignment() const;
  uint64_t data_offset() const;  // absolute offset of the tensor data section
  uint64_t file_size() const;

  const std::vector<GgufKeyValue>& metadata() const;
  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  // Typed getters: nullopt if absent; GgufError (naming the key and both types) if present
  // with an incompatible type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const GgufArray* get_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* tensor(std::string_view name) const;  // nullptr if absent

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes GGUF v3 exactly as llama.cpp's gguf_writer does: keys in the order added, tensor
// infos in the order added, each tensor's data padded to the alignment, offsets consecutive.
// An alignment other than 32 is recorded as general.alignment (UINT32); setting that key
// changes the alignment. Every call validates its input and throws GgufError (naming the key or
// tensor) for anything the reader would reject.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32);
  void set(std::string key, GgufValue value);  // replaces an existing key, keeps its position
  void remove(std::string_view key);
  uint32_t alignment() const { return alignment_; }
  // data must hold exactly the tensor's bytes; it is copied.
  void add_tensor(std::string name, uint32_t type, std::vector<int64_t> ne,
                  std::span<const std::byte> data, const GgufOpenOptions& types = {});
  // Writes to path atomically (temporary file + rename). Throws GgufError on I/O failure.
  void write(const std::filesystem::path& path) const;
  std::vector<std::byte> to_bytes() const;

 private:
  struct PendingTensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::vector<std::byte> data;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

// Value constructors for the writer.
GgufValue gguf_u8(uint8_t v);
GgufValue gguf_i8(int8_t v);
GgufValue gguf_u16(uint16_t v);
GgufValue gguf_i16(int16_t v);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_u64(uint64_t v);
GgufValue gguf_i64(int64_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_f64(double v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string(std::string v);
GgufValue gguf_string_array(std::vector<std::string> v);
GgufValue gguf_f32_array(std::vector<float> v);
GgufValue gguf_i32_array(std::vector<int32_t> v);
// Any array, including arrays of arrays; every value must have type element_type.
GgufValue gguf_array(GgufType element_type, std::vector<GgufValue> values);

}  // namespace hearth

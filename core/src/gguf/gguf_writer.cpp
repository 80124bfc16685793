// GgufWriter: GGUF v3 in llama.cpp's layout (gguf.cpp gguf_write_to_buf): header, metadata in
// insertion order, tensor infos with consecutive aligned offsets, padding, then each tensor's
// data padded to the alignment. write() goes through a temporary file and rename().
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <hearth/gguf.hpp>
#include <limits>
#include <random>

#include "gguf_internal.hpp"
#include "mapped_file.hpp"

namespace hearth {

using namespace gguf_detail;

namespace {

constexpr uint32_t kWrittenVersion = 3;

[[noreturn]] void writer_error(const std::string& message) {
  throw GgufError("GGUF writer: " + message);
}

class Encoder {
 public:
  explicit Encoder(std::vector<std::byte>& out) : out_(out) {}

  void little_endian(uint64_t value, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>(value >> (8 * i)));
  }
  void u32(uint32_t v) { little_endian(v, 4); }
  void u64(uint64_t v) { little_endian(v, 8); }
  void string(std::string_view s) {
    u64(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  void zeros(uint64_t n) { out_.insert(out_.end(), static_cast<std::size_t>(n), std::byte{0}); }
  uint64_t size() const { return out_.size(); }

  // Validates value (its variant alternative matches its type, integers fit, arrays are
  // homogeneous and not nested too deep) while encoding it.
  void value(const GgufValue& v, const std::string& key, uint32_t depth) {
    const auto type_id = static_cast<uint32_t>(v.type);
    if (!is_value_type(type_id))
      writer_error("key '" + key + "': unknown value type " + std::to_string(type_id));
    const std::string what =
        "key '" + key + "': value of type " + std::string(gguf_type_name(v.type));
    if (is_integer_type(v.type)) {
      if (!integer_fits(v.type, v)) {
        const auto* i = std::get_if<int64_t>(&v.data);
        const auto* u = std::get_if<uint64_t>(&v.data);
        if (!i && !u) writer_error(what + " does not hold an integer");
        writer_error(what + " holds " + (i ? std::to_string(*i) : std::to_string(*u)) +
                     ", which does not fit");
      }
      const auto* i = std::get_if<int64_t>(&v.data);
      const uint64_t bits = i ? static_cast<uint64_t>(*i) : std::get<uint64_t>(v.data);
      little_endian(bits, scalar_size(v.type));
      return;
    }
    switch (v.type) {
      case GgufType::FLOAT32:
      case GgufType::FLOAT64: {
        const auto* d = std::get_if<double>(&v.data);
        if (!d) writer_error(what + " does not hold a floating-point number");
        if (v.type == GgufType::FLOAT64) return u64(std::bit_cast<uint64_t>(*d));
        if (std::isfinite(*d) && std::fabs(*d) > std::numeric_limits<float>::max())
          writer_error(what + " holds " + std::to_string(*d) + ", which does not fit");
        return u32(std::bit_cast<uint32_t>(static_cast<float>(*d)));
      }
      case GgufType::BOOL: {
        const auto* b = std::get_if<bool>(&v.data);
        if (!b) writer_error(what + " does not hold a bool");
        return little_endian(*b ? 1 : 0, 1);
      }
      case GgufType::STRING: {
        const auto* s = std::get_if<std::string>(&v.data);
        if (!s) writer_error(what + " does not hold a string");
        return string(*s);
      }
      case GgufType::ARRAY:
        return array(v, key, depth + 1, what);
      default:
        return;  // integers were handled above
    }
  }

 private:
  void array(const GgufValue& v, const std::string& key, uint32_t depth, const std::string& what) {
    const GgufArray* a = v.as_array();
    if (!a) writer_error(what + " holds no array");
    const auto element_id = static_cast<uint32_t>(a->element_type);
    if (!is_value_type(element_id))
      writer_error("key '" + key + "': unknown array element type " + std::to_string(element_id));
    if (a->element_type == GgufType::ARRAY && depth >= kGgufMaxArrayDepth)
      writer_error("key '" + key + "': arrays nested more than " +
                   std::to_string(kGgufMaxArrayDepth) + " deep");
    u32(element_id);
    u64(a->values.size());
    for (std::size_t i = 0; i < a->values.size(); ++i) {
      const GgufValue& element = a->values[i];
      if (element.type != a->element_type)
        writer_error("key '" + key + "': array element #" + std::to_string(i) + " has type " +
                     std::string(gguf_type_name(element.type)) + " in an array of " +
                     std::string(gguf_type_name(a->element_type)));
      value(element, key, depth);
    }
  }

  std::vector<std::byte>& out_;
};

uint64_t padding(uint64_t size, uint64_t alignment) {
  return (alignment - size % alignment) % alignment;
}

void check_key(const std::string& key) {
  if (key.empty()) writer_error("a metadata key is empty");
  if (key.size() > kGgufMaxKeyBytes)
    writer_error("key '" + key.substr(0, 64) + "...' is longer than " +
                 std::to_string(kGgufMaxKeyBytes) + " bytes");
}

uint32_t checked_alignment(uint64_t alignment, std::string_view where) {
  if (alignment > std::numeric_limits<uint32_t>::max() || !is_power_of_two(alignment))
    writer_error(std::string(where) + ": alignment " + std::to_string(alignment) +
                 " is not a nonzero power of two that fits in 32 bits");
  return static_cast<uint32_t>(alignment);
}

void write_all(int fd, const std::byte* data, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw GgufError(path + ": cannot write (" + std::strerror(errno) +
                      "); check free disk space and permissions");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Removes the temporary file unless the rename succeeded.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!committed_) ::unlink(path_.c_str());
  }
  const std::filesystem::path& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::filesystem::path path_;
  bool committed_ = false;
};

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment)
    : alignment_(checked_alignment(alignment, "GgufWriter")) {}

void GgufWriter::set(std::string key, GgufValue value) {
  check_key(key);
  std::vector<std::byte> scratch;
  Encoder(scratch).value(value, key, 0);
  if (key == kAlignmentKey) {
    const auto a = value.as_uint();
    if (!a) writer_error("key 'general.alignment' must be an unsigned integer (UINT32)");
    alignment_ = checked_alignment(*a, "key 'general.alignment'");
  }
  for (auto& [existing, old] : metadata_) {
    if (existing == key) {
      old = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::remove(std::string_view key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
  if (key == kAlignmentKey) alignment_ = kDefaultAlignment;
}

void GgufWriter::add_tensor(std::string name, uint32_t type, std::vector<int64_t> ne,
                            std::span<const std::byte> data, const GgufOpenOptions& types) {
  const std::string what = "tensor '" + name + "'";
  if (name.empty()) writer_error("a tensor name is empty");
  if (name.size() > kGgufMaxWrittenNameBytes)
    writer_error(what + ": the name is longer than " + std::to_string(kGgufMaxWrittenNameBytes) +
                 " bytes (llama.cpp's limit)");
  for (const auto& t : tensors_)
    if (t.name == name) writer_error(what + " was added twice");
  if (ne.empty() || ne.size() > kGgufMaxDims)
    writer_error(what + ": " + std::to_string(ne.size()) + " dimensions (must be 1 to 4)");
  uint64_t n_elements = 1;
  for (int64_t d : ne) {
    if (d < 0) writer_error(what + ": negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(n_elements, static_cast<uint64_t>(d), &n_elements) ||
        n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      writer_error(what + ": the element count overflows 64 bits");
  }
  if (auto removed = removed_tensor_type_name(type))
    writer_error(what + ": type id " + std::to_string(type) + " (" + std::string(*removed) +
                 ") was removed from ggml");
  if (is_variable_size_type(type)) {
    // The reader sizes these from their header, so the header must describe exactly data.
    const VariableSize size = variable_tensor_size(type, ne, data);
    if (!size.error.empty()) writer_error(what + ": " + size.error);
    if (size.bytes != data.size())
      writer_error(what + ": data has " + std::to_string(data.size()) + " bytes but its " +
                   variable_size_name(type) + " header says " + std::to_string(size.bytes));
    tensors_.push_back({std::move(name), type, std::move(ne), {data.begin(), data.end()}});
    return;
  }
  const auto layout = resolve_tensor_type(type, types);
  if (!layout || layout->block_elems == 0 || layout->block_bytes == 0)
    writer_error(what + ": unknown tensor type id " + std::to_string(type) +
                 " (pass the format plugin's layouts in the GgufOpenOptions argument)");
  const auto ne0 = static_cast<uint64_t>(ne[0]);
  if (ne0 % layout->block_elems != 0)
    writer_error(what + ": ne[0] = " + std::to_string(ne0) + " is not a multiple of the " +
                 layout->name + " block size " + std::to_string(layout->block_elems));
  const uint64_t rows = ne0 == 0 ? 0 : n_elements / ne0;
  uint64_t row_bytes = 0, nbytes = 0;
  if (__builtin_mul_overflow(ne0 / layout->block_elems, uint64_t{layout->block_bytes},
                             &row_bytes) ||
      __builtin_mul_overflow(row_bytes, rows, &nbytes))
    writer_error(what + ": the byte size overflows 64 bits");
  if (data.size() != nbytes)
    writer_error(what + ": data has " + std::to_string(data.size()) + " bytes but its shape as " +
                 layout->name + " needs " + std::to_string(nbytes));
  tensors_.push_back({std::move(name), type, std::move(ne), {data.begin(), data.end()}});
}

namespace {

std::vector<std::byte> encode_header(uint32_t alignment,
                                     const std::vector<std::pair<std::string, GgufValue>>& metadata,
                                     const auto& tensors) {
  std::vector<std::byte> out;
  Encoder e(out);
  bool has_alignment_key = false;
  for (const auto& kv : metadata)
    has_alignment_key = has_alignment_key || kv.first == kAlignmentKey;
  const bool add_alignment_key = alignment != kDefaultAlignment && !has_alignment_key;

  e.u32(kGgufMagic);
  e.u32(kWrittenVersion);
  e.u64(tensors.size());
  e.u64(metadata.size() + (add_alignment_key ? 1 : 0));
  for (const auto& [key, value] : metadata) {
    e.string(key);
    e.u32(static_cast<uint32_t>(value.type));
    e.value(value, key, 0);
  }
  if (add_alignment_key) {
    e.string(kAlignmentKey);
    e.u32(static_cast<uint32_t>(GgufType::UINT32));
    e.u32(alignment);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    e.string(t.name);
    e.u32(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) e.u64(static_cast<uint64_t>(d));
    e.u32(t.type);
    e.u64(offset);
    offset += t.data.size() + padding(t.data.size(), alignment);
  }
  e.zeros(padding(e.size(), alignment));
  return out;
}

}  // namespace

std::vector<std::byte> GgufWriter::to_bytes() const {
  std::vector<std::byte> out = encode_header(alignment_, metadata_, tensors_);
  for (const auto& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    out.insert(out.end(), static_cast<std::size_t>(padding(t.data.size(), alignment_)),
               std::byte{0});
  }
  return out;
}

void GgufWriter::write(const std::filesystem::path& path) const {
  const std::vector<std::byte> header = encode_header(alignment_, metadata_, tensors_);
  const std::string name = path.string();
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  TemporaryFile temp(dir / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                            "-" + std::to_string(std::random_device{}())));
  gguf_detail::UniqueFd fd(
      ::open(temp.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    throw GgufError(name + ": cannot create the temporary file " + temp.path().string() + " (" +
                    std::strerror(errno) + "); check that the directory exists and is writable");
  write_all(fd.get(), header.data(), header.size(), name);
  const std::vector<std::byte> zeros(alignment_, std::byte{0});
  for (const auto& t : tensors_) {
    write_all(fd.get(), t.data.data(), t.data.size(), name);
    write_all(fd.get(), zeros.data(), padding(t.data.size(), alignment_), name);
  }
  if (::fsync(fd.get()) != 0 || fd.close() != 0)
    throw GgufError(name + ": cannot flush the written data (" + std::strerror(errno) +
                    "); check free disk space");
  if (::rename(temp.path().c_str(), path.c_str()) != 0)
    throw GgufError(name + ": cannot move the temporary file into place (" + std::strerror(errno) +
                    "); check permissions of the directory");
  temp.commit();
}

}  // namespace hearth

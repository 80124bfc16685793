#include <hearth/safetensors.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "gguf/mapped_file.hpp"

namespace hearth {

struct SafetensorsFile::Storage {
  std::optional<gguf_detail::MappedFile> mapped;
  std::vector<std::byte> owned;
  std::span<const std::byte> bytes() const {
    return mapped ? mapped->bytes() : std::span<const std::byte>(owned);
  }
};

namespace {

struct DtypeEntry {
  SafetensorsDtype dtype;
  std::string_view name;
  uint64_t size;
};

constexpr std::array kDtypes = {
    DtypeEntry{SafetensorsDtype::BOOL, "BOOL", 1},
    DtypeEntry{SafetensorsDtype::U8, "U8", 1},
    DtypeEntry{SafetensorsDtype::I8, "I8", 1},
    DtypeEntry{SafetensorsDtype::U16, "U16", 2},
    DtypeEntry{SafetensorsDtype::I16, "I16", 2},
    DtypeEntry{SafetensorsDtype::U32, "U32", 4},
    DtypeEntry{SafetensorsDtype::I32, "I32", 4},
    DtypeEntry{SafetensorsDtype::U64, "U64", 8},
    DtypeEntry{SafetensorsDtype::I64, "I64", 8},
    DtypeEntry{SafetensorsDtype::F16, "F16", 2},
    DtypeEntry{SafetensorsDtype::BF16, "BF16", 2},
    DtypeEntry{SafetensorsDtype::F32, "F32", 4},
    DtypeEntry{SafetensorsDtype::F64, "F64", 8},
    DtypeEntry{SafetensorsDtype::F8_E4M3, "F8_E4M3", 1},
    DtypeEntry{SafetensorsDtype::F8_E5M2, "F8_E5M2", 1},
};

// The reference implementation's limit: a larger header is refused before it is read.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

class HeaderParser {
 public:
  HeaderParser(std::string_view file, uint64_t data_start, uint64_t data_size)
      : file_(file), data_start_(data_start), data_size_(data_size) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw SafetensorsError(std::string(file_) + ": " + what +
                           "; the file is not a valid safetensors file (truncated or corrupt?)");
  }

  SafetensorsDtype dtype(const std::string& tensor, const nlohmann::json& v) const {
    if (!v.is_string()) fail("tensor '" + tensor + "': \"dtype\" is not a string");
    const auto& name = v.get_ref<const std::string&>();
    for (const auto& d : kDtypes)
      if (d.name == name) return d.dtype;
    fail("tensor '" + tensor + "': unknown dtype \"" + name + "\"");
  }

  uint64_t non_negative(const std::string& tensor, const char* field,
                        const nlohmann::json& v) const {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    if (v.is_number_integer() && v.get<int64_t>() >= 0)
      return static_cast<uint64_t>(v.get<int64_t>());
    fail("tensor '" + tensor + "': " + field + " holds " + v.dump() +
         ", expected a non-negative integer");
  }

  SafetensorsTensor tensor(const std::string& name, const nlohmann::json& entry,
                           std::span<const std::byte> data) const {
    if (!entry.is_object()) fail("tensor '" + name + "': its header entry is not an object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(key)) fail("tensor '" + name + "': header entry has no \"" + key + "\"");
    SafetensorsTensor t;
    t.name = name;
    t.dtype = dtype(name, entry["dtype"]);
    const auto& shape = entry["shape"];
    if (!shape.is_array()) fail("tensor '" + name + "': \"shape\" is not an array");
    uint64_t elements = 1;
    for (const auto& dim : shape) {
      const uint64_t d = non_negative(name, "\"shape\"", dim);
      if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (d != 0 && elements > std::numeric_limits<uint64_t>::max() / d))
        fail("tensor '" + name + "': shape " + shape.dump() + " overflows a 64-bit element count");
      elements *= d;
      t.shape.push_back(static_cast<int64_t>(d));
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
      fail("tensor '" + name + "': \"data_offsets\" is not a [begin, end] pair");
    const uint64_t begin = non_negative(name, "\"data_offsets\"", offsets[0]);
    const uint64_t end = non_negative(name, "\"data_offsets\"", offsets[1]);
    const std::string where = "tensor '" + name + "': data_offsets [" + std::to_string(begin) +
                              ", " + std::to_string(end) + "] (file bytes " +
                              std::to_string(data_start_ + begin) + " to " +
                              std::to_string(data_start_ + end) + ")";
    if (end < begin) fail(where + " end before they begin");
    if (end > data_size_)
      fail(where + " run past the end of the file (" + std::to_string(data_start_ + data_size_) +
           " bytes)");
    const uint64_t size = safetensors_dtype_size(t.dtype);
    if (elements > std::numeric_limits<uint64_t>::max() / size || elements * size != end - begin)
      fail(where + " hold " + std::to_string(end - begin) + " bytes, but shape " + shape.dump() +
           " of " + std::string(safetensors_dtype_name(t.dtype)) + " needs " +
           (elements > std::numeric_limits<uint64_t>::max() / size
                ? std::string("more than 2^64")
                : std::to_string(elements * size)));
    t.data = data.subspan(begin, end - begin);
    t.file_offset = data_start_ + begin;
    return t;
  }

 private:
  std::string_view file_;
  uint64_t data_start_;
  uint64_t data_size_;
};

uint64_t read_u64_le(std::span<const std::byte> bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | std::to_integer<uint64_t>(bytes[static_cast<size_t>(i)]);
  return v;
}

}  // namespace

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  return "?";
}

uint64_t safetensors_dtype_size(SafetensorsDtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return d.size;
  return 1;
}

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const SafetensorsTensor* SafetensorsFile::tensor(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  auto storage = std::make_shared<Storage>();
  try {
    storage->mapped.emplace(gguf_detail::MappedFile::open(path));
  } catch (const std::exception& e) {
    throw SafetensorsError(e.what(), HEARTH_ERR_IO);
  }
  return SafetensorsFile(std::move(storage), path.string());
}

SafetensorsFile SafetensorsFile::parse(std::vector<std::byte> bytes, std::string name) {
  auto storage = std::make_shared<Storage>();
  storage->owned = std::move(bytes);
  return SafetensorsFile(std::move(storage), std::move(name));
}

SafetensorsFile::SafetensorsFile(std::shared_ptr<const Storage> storage, std::string name)
    : storage_(std::move(storage)), name_(std::move(name)) {
  const auto bytes = storage_->bytes();
  const uint64_t size = bytes.size();
  HeaderParser check(name_, 0, 0);
  if (size < 8)
    check.fail("the file is " + std::to_string(size) +
               " bytes, shorter than the 8-byte header length at byte 0");
  const uint64_t header_bytes = read_u64_le(bytes);
  if (header_bytes > size - 8)
    check.fail("the header length at byte 0 says " + std::to_string(header_bytes) +
               " bytes, but only " + std::to_string(size - 8) + " follow it");
  if (header_bytes > kMaxHeaderBytes)
    check.fail("the header length at byte 0 says " + std::to_string(header_bytes) +
               " bytes, more than the format's limit of " + std::to_string(kMaxHeaderBytes));
  const auto* text = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + header_bytes);
  } catch (const nlohmann::json::parse_error& e) {
    check.fail("the JSON header (bytes 8 to " + std::to_string(8 + header_bytes) +
               ") does not parse at file byte " +
               // e.byte counts from 1 (the character it stopped at).
               std::to_string(8 + (e.byte > 0 ? e.byte - 1 : 0)) + ": " + e.what());
  }
  if (!header.is_object()) check.fail("the JSON header at byte 8 is not an object");

  const uint64_t data_start = 8 + header_bytes;
  const HeaderParser parser(name_, data_start, size - data_start);
  const auto data = bytes.subspan(data_start);
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (!entry.is_object()) parser.fail("\"__metadata__\" is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) parser.fail("\"__metadata__\" value of \"" + k + "\" is not a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    tensors_.push_back(parser.tensor(key, entry, data));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const auto& a, const auto& b) { return a.file_offset < b.file_offset; });
  for (size_t i = 1; i < tensors_.size(); ++i) {
    const auto& prev = tensors_[i - 1];
    if (tensors_[i].file_offset < prev.file_offset + prev.data.size())
      parser.fail("tensors '" + prev.name + "' (file bytes " + std::to_string(prev.file_offset) +
                  " to " + std::to_string(prev.file_offset + prev.data.size()) + ") and '" +
                  tensors_[i].name + "' (from byte " + std::to_string(tensors_[i].file_offset) +
                  ") overlap");
  }
}

}  // namespace hearth

// GgufFile: opening (memory-mapped) or wrapping bytes, and the accessors and typed getters.
#include <hearth/gguf.hpp>

#include "gguf_contents.hpp"
#include "gguf_internal.hpp"

namespace hearth {

using namespace gguf_detail;

struct GgufFile::Impl : Contents {};

GgufFile GgufFile::open(const std::filesystem::path& path, const GgufOpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->name = path.string();
  impl->mapping = MappedFile::open(path);
  impl->bytes = impl->mapping->bytes();
  parse_contents(*impl, options);
  return GgufFile(std::move(impl));
}

GgufFile GgufFile::parse(std::span<const std::byte> bytes, std::string name,
                         const GgufOpenOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  impl->bytes = bytes;
  parse_contents(*impl, options);
  return GgufFile(std::move(impl));
}

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

const std::string& GgufFile::name() const { return impl_->name; }
uint32_t GgufFile::version() const { return impl_->version; }
uint32_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::data_offset() const { return impl_->data_offset; }
uint64_t GgufFile::file_size() const { return impl_->bytes.size(); }
const std::vector<GgufKeyValue>& GgufFile::metadata() const { return impl_->metadata; }
const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  return it == impl_->key_index.end() ? nullptr : &impl_->metadata[it->second].value;
}

const GgufTensorInfo* GgufFile::tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

namespace {

[[noreturn]] void wrong_type(const std::string& file, const GgufKeyValue& kv,
                             std::string_view expected) {
  throw GgufError(file + ": key '" + kv.key + "' at byte " + std::to_string(kv.offset) +
                  " has type " + std::string(gguf_type_name(kv.value.type)) + ", expected " +
                  std::string(expected) +
                  "; the file does not follow the GGUF conventions for this key, re-convert it");
}

[[noreturn]] void out_of_range(const std::string& file, const GgufKeyValue& kv,
                               std::string_view target) {
  const auto* u = std::get_if<uint64_t>(&kv.value.data);
  const auto* i = std::get_if<int64_t>(&kv.value.data);
  const std::string value = u ? std::to_string(*u) : i ? std::to_string(*i) : "?";
  throw GgufError(file + ": key '" + kv.key + "' at byte " + std::to_string(kv.offset) + " holds " +
                  value + ", which does not fit " + std::string(target) +
                  "; the value is invalid, fix the key or re-convert the model");
}

}  // namespace

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return std::nullopt;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (const std::string* s = kv.value.as_string()) return *s;
  wrong_type(impl_->name, kv, "STRING");
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return std::nullopt;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (!is_integer_type(kv.value.type)) wrong_type(impl_->name, kv, "an integer");
  if (auto v = kv.value.as_int()) return v;
  out_of_range(impl_->name, kv, "a signed 64-bit integer");
}

std::optional<uint64_t> GgufFile::get_uint(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return std::nullopt;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (!is_integer_type(kv.value.type)) wrong_type(impl_->name, kv, "an integer");
  if (auto v = kv.value.as_uint()) return v;
  out_of_range(impl_->name, kv, "an unsigned integer");
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return std::nullopt;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (auto v = kv.value.as_float()) return v;
  wrong_type(impl_->name, kv, "FLOAT32 (or another number)");
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return std::nullopt;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (auto v = kv.value.as_bool()) return v;
  wrong_type(impl_->name, kv, "BOOL");
}

const GgufArray* GgufFile::get_array(std::string_view key) const {
  auto it = impl_->key_index.find(key);
  if (it == impl_->key_index.end()) return nullptr;
  const GgufKeyValue& kv = impl_->metadata[it->second];
  if (const GgufArray* a = kv.value.as_array()) return a;
  wrong_type(impl_->name, kv, "ARRAY");
}

}  // namespace hearth

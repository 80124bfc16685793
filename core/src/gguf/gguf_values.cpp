// GgufValue accessors and the writer's value constructors.
#include <hearth/gguf.hpp>
#include <limits>

#include "gguf_internal.hpp"

namespace hearth {

using gguf_detail::is_integer_type;

std::optional<int64_t> GgufValue::as_int() const {
  if (!is_integer_type(type)) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return static_cast<int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<uint64_t> GgufValue::as_uint() const {
  if (!is_integer_type(type)) return std::nullopt;
  if (const auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&data)) {
    if (*i >= 0) return static_cast<uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (type == GgufType::FLOAT32 || type == GgufType::FLOAT64) {
    if (const auto* d = std::get_if<double>(&data)) return *d;
    return std::nullopt;
  }
  if (!is_integer_type(type)) return std::nullopt;
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type != GgufType::BOOL) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

const std::string* GgufValue::as_string() const {
  return type == GgufType::STRING ? std::get_if<std::string>(&data) : nullptr;
}

const GgufArray* GgufValue::as_array() const {
  if (type != GgufType::ARRAY) return nullptr;
  const auto* array = std::get_if<std::shared_ptr<GgufArray>>(&data);
  return array ? array->get() : nullptr;
}

int64_t GgufTensorInfo::n_elements() const {
  // Unsigned arithmetic: the reader has checked the product fits; a hand-made info must not UB.
  uint64_t n = 1;
  for (int64_t d : ne) n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

GgufValue gguf_u8(uint8_t v) { return {GgufType::UINT8, uint64_t{v}}; }
GgufValue gguf_i8(int8_t v) { return {GgufType::INT8, int64_t{v}}; }
GgufValue gguf_u16(uint16_t v) { return {GgufType::UINT16, uint64_t{v}}; }
GgufValue gguf_i16(int16_t v) { return {GgufType::INT16, int64_t{v}}; }
GgufValue gguf_u32(uint32_t v) { return {GgufType::UINT32, uint64_t{v}}; }
GgufValue gguf_i32(int32_t v) { return {GgufType::INT32, int64_t{v}}; }
GgufValue gguf_u64(uint64_t v) { return {GgufType::UINT64, v}; }
GgufValue gguf_i64(int64_t v) { return {GgufType::INT64, v}; }
GgufValue gguf_f32(float v) { return {GgufType::FLOAT32, static_cast<double>(v)}; }
GgufValue gguf_f64(double v) { return {GgufType::FLOAT64, v}; }
GgufValue gguf_bool(bool v) { return {GgufType::BOOL, v}; }
GgufValue gguf_string(std::string v) { return {GgufType::STRING, std::move(v)}; }

GgufValue gguf_array(GgufType element_type, std::vector<GgufValue> values) {
  auto array = std::make_shared<GgufArray>();
  array->element_type = element_type;
  array->values = std::move(values);
  return {GgufType::ARRAY, std::move(array)};
}

GgufValue gguf_string_array(std::vector<std::string> v) {
  std::vector<GgufValue> values;
  values.reserve(v.size());
  for (auto& s : v) values.push_back(gguf_string(std::move(s)));
  return gguf_array(GgufType::STRING, std::move(values));
}

GgufValue gguf_f32_array(std::vector<float> v) {
  std::vector<GgufValue> values;
  values.reserve(v.size());
  for (float f : v) values.push_back(gguf_f32(f));
  return gguf_array(GgufType::FLOAT32, std::move(values));
}

GgufValue gguf_i32_array(std::vector<int32_t> v) {
  std::vector<GgufValue> values;
  values.reserve(v.size());
  for (int32_t i : v) values.push_back(gguf_i32(i));
  return gguf_array(GgufType::INT32, std::move(values));
}

}  // namespace hearth

#include "quantize/tensor_values.hpp"

#include <hearth/error.hpp>

#include <cstring>

namespace hearth::detail {

std::string tensor_type_name(uint32_t type) {
  auto layout = gguf_builtin_type_layout(type);
  return layout ? layout->name : "type " + std::to_string(type);
}

std::vector<float> tensor_values_f32(const GgufTensorInfo& t, const PluginRegistry& registry,
                                     const std::string& file) {
  std::vector<float> values(static_cast<size_t>(t.n_elements()));
  if (t.type == HEARTH_DTYPE_F32) {
    std::memcpy(values.data(), t.data, values.size() * sizeof(float));
    return values;
  }
  auto format = registry.format_for(t.type);
  if (!format)
    throw Error(file + ": tensor '" + t.name + "' is " + tensor_type_name(t.type) +
                " and no loaded format plugin can read it; check `hearth plugins`");
  format->dequantize(t.type, t.data, values.data(), t.n_elements());
  return values;
}

}  // namespace hearth::detail

// A GGUF tensor's values as F32, through whichever format plugin reads its type: what
// `hearth quantize` and `hearth convert` start from.
#pragma once

#include <hearth/gguf.hpp>
#include <hearth/plugin_registry.hpp>

#include <string>
#include <vector>

namespace hearth::detail {

std::string tensor_type_name(uint32_t type);

// Throws hearth::Error naming the file, the tensor and its type when no plugin reads it.
std::vector<float> tensor_values_f32(const GgufTensorInfo& t, const PluginRegistry& registry,
                                     const std::string& file);

}  // namespace hearth::detail

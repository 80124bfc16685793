// Rewrites a GGUF model with new tensor types, keeping its metadata: what `hearth quantize`
// does. Types come from format plugins; mixes follow llama.cpp's recipes.
#pragma once

#include <hearth/plugin_registry.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace hearth {

struct QuantizeRecipe {
  std::string name;         // "Q4_K_M", "Q8_0", "F16"
  std::string description;
};

// The recipes `hearth quantize` accepts.
std::vector<QuantizeRecipe> quantize_recipes();

struct QuantizeReport {
  int64_t tensors = 0;
  int64_t converted = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::vector<std::string> fallbacks;  // tensors whose rows did not fit the type's blocks
};

using QuantizeProgress = std::function<void(const std::string& tensor, size_t done, size_t total)>;

// Throws hearth::Error for an unknown recipe (listing the known ones) and GgufError for a bad
// input file. The output is written atomically.
QuantizeReport quantize_model(const std::filesystem::path& input, const std::filesystem::path& output,
                              const std::string& recipe, const PluginRegistry& registry,
                              const QuantizeProgress& progress = {});

}  // namespace hearth

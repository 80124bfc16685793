// Wanda's calibration statistics: for every linear-layer weight, the L2 norm over the calibration
// tokens of each input column (of the activations that multiply it). Computed by a plain F32
// forward pass on the host (llama/qwen2 blocks: RMS norm, RoPE, causal GQA attention, SwiGLU),
// independent of any backend, so pruning never depends on a device's rounding.
#pragma once

#include <hearth/gguf.hpp>
#include <hearth/plugin_registry.hpp>

#include <map>
#include <string>
#include <vector>

namespace hearth::detail {

struct CalibrationNorms {
  std::map<std::string, std::vector<float>> norms;  // tensor name -> n_in norms
  int64_t tokens = 0;
};

// Tokenizes text (with BOS), keeps at most max_tokens, runs them in windows of at most the
// model's training context (256 at most) and accumulates the squared activations.
CalibrationNorms calibration_norms(const GgufFile& file, const PluginRegistry& registry,
                                   const std::string& text, int64_t max_tokens);

}  // namespace hearth::detail

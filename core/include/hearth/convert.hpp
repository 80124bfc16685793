// Rewrites a GGUF model into one of Hearth's own weight formats: what `hearth convert` does.
// --to cs256 prunes every linear-layer weight (attention and FFN matrices; token_embd, output
// and 1-D tensors stay as they are) with the format-cs256 plugin's encoder, by magnitude or,
// given a calibration text, by Wanda's |w| * ||x||. --to nf4 is `hearth quantize` with the NF4
// recipe.
#pragma once

#include <hearth/plugin_registry.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace hearth {

struct ConvertOptions {
  std::string to;              // "cs256" or "nf4"
  double sparsity = 0.5;       // cs256: fraction of each matrix's weights to drop, in [0, 1)
  std::string values = "f16";  // cs256: f16, bf16 or int8 (per-row scales)
  int vec = 8;                 // cs256: tile counts are multiples of it (4, 8, 16)
  std::optional<std::filesystem::path> calib;  // cs256: text for Wanda's activation norms
  int64_t calib_tokens = 2048;                 // at most this many calibration tokens
};

struct ConvertReport {
  int64_t tensors = 0;
  int64_t converted = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  // Over the converted (pruned) matrices only:
  uint64_t converted_elements = 0;
  uint64_t converted_bytes = 0;  // their CS256 blobs
  uint64_t stored_entries = 0;   // entries kept (padding included)
  std::string method;            // "magnitude", "wanda" or "nf4"
  int64_t calib_tokens = 0;      // tokens the calibration ran over
};

using ConvertProgress = std::function<void(const std::string& tensor, size_t done, size_t total)>;

// Checks options (throws hearth::Error naming the bad one) before reading anything; writes the
// output atomically and re-reads it with the validating GGUF reader.
ConvertReport convert_model(const std::filesystem::path& input, const std::filesystem::path& output,
                            const ConvertOptions& options, const PluginRegistry& registry,
                            const ConvertProgress& progress = {});

}  // namespace hearth

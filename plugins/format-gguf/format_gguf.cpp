// The GGUF weight-format plugin: ggml's tensor types (F32, F16, BF16, Q4_0 ... Q8_K) with their
// scalar reference dequantizers and quantizers. Validation of every call lives here; the kernels
// in dequantize.cpp / quantize_*.cpp assume valid arguments.
#include <hearth/sdk/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "type_table.hpp"

namespace hearth::format_gguf {
namespace {

using sdk::PluginError;

std::string supported_names() {
  std::string names;
  for (const auto& t : gguf_types()) {
    if (!names.empty()) names += ", ";
    names += t.name;
  }
  return names;
}

const GgufTypeEntry& require_type(hearth_dtype dtype, const char* operation) {
  if (const auto* type = find_gguf_type(dtype)) return *type;
  std::string what =
      "format gguf: cannot " + std::string(operation) + " dtype " + std::to_string(dtype);
  if (const auto name = unsupported_gguf_type_name(dtype); !name.empty())
    what += " (" + std::string(name) + ")";
  else if (dtype >= HEARTH_DTYPE_FIRST_HEARTH)
    what += " (a Hearth format id, not a GGUF type)";
  else
    what += " (not a GGUF type id)";
  throw PluginError(HEARTH_ERR_UNSUPPORTED, what + ": this plugin handles " + supported_names() +
                                                "; use a format plugin that provides this type");
}

void require_whole_blocks(const GgufTypeEntry& type, int64_t n, const char* what) {
  if (n < 0)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format gguf: " + std::string(type.name) + ": " +
                                                       what + " is negative (" + std::to_string(n) +
                                                       ")");
  if (n % type.block_elems != 0)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format gguf: " + std::string(type.name) + ": " + what + " " +
                          std::to_string(n) + " is not a multiple of the block size " +
                          std::to_string(type.block_elems) +
                          "; rows of this type must hold whole blocks");
}

// Block quantizers need finite input (ggml's would silently produce garbage scales).
void require_finite(const GgufTypeEntry& type, const float* row, int64_t row_index, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if (!std::isfinite(row[j]))
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format gguf: cannot quantize to " + std::string(type.name) + ": row " +
                            std::to_string(row_index) + ", column " + std::to_string(j) + " is " +
                            std::to_string(row[j]) +
                            "; only finite values can be quantized to a block type");
  }
}

void require_valid_importance(const GgufTypeEntry& type, const float* importance, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    if (!std::isfinite(importance[j]) || importance[j] < 0)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format gguf: cannot quantize to " + std::string(type.name) +
                            ": importance[" + std::to_string(j) + "] is " +
                            std::to_string(importance[j]) +
                            "; importance weights must be finite and non-negative");
  }
}

class GgufFormat final : public sdk::Format {
 public:
  explicit GgufFormat(const hearth_host_api* host) : Format(host) {
    for (const auto& t : gguf_types()) add_type(t.dtype, t.name, t.block_elems, t.block_bytes);
  }

  void dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) override {
    const auto& type = require_type(dtype, "dequantize");
    require_whole_blocks(type, n, "element count");
    if (n == 0) return;
    if (!src || !dst)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format gguf: dequantize " + std::string(type.name) + " of " +
                            std::to_string(n) + " elements got a null " +
                            (src ? "destination" : "source") + " pointer");
    type.dequantize(static_cast<const std::byte*>(src), dst, n);
  }

  void quantize(hearth_dtype dtype, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                const float* importance) override {
    const auto& type = require_type(dtype, "quantize to");
    require_whole_blocks(type, n_per_row, "row length (n_per_row)");
    if (n_rows < 0)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format gguf: quantize to " +
                                                         std::string(type.name) + ": n_rows is " +
                                                         std::to_string(n_rows));
    if (n_rows == 0 || n_per_row == 0) return;
    const int64_t row_bytes = n_per_row / type.block_elems * type.block_bytes;
    if (n_rows > std::numeric_limits<int64_t>::max() / row_bytes)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format gguf: quantize to " + std::string(type.name) + ": " +
                            std::to_string(n_rows) + " rows of " + std::to_string(n_per_row) +
                            " elements overflow a 64-bit byte count");
    if (!src || !dst)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format gguf: quantize to " + std::string(type.name) + " got a null " +
                            (src ? "destination" : "source") + " pointer");
    if (importance && !type.is_float) require_valid_importance(type, importance, n_per_row);
    // Everything is checked before anything is written, so a rejected call leaves dst as it was.
    if (!type.is_float)
      for (int64_t r = 0; r < n_rows; ++r) require_finite(type, src + r * n_per_row, r, n_per_row);
    for (int64_t r = 0; r < n_rows; ++r)
      type.quantize(src + r * n_per_row, static_cast<std::byte*>(dst) + r * row_bytes, n_per_row,
                    importance);
  }
};

}  // namespace
}  // namespace hearth::format_gguf

HEARTH_FORMAT_PLUGIN(hearth::format_gguf::GgufFormat, "gguf", "0.1.0",
                     "GGUF tensor types F32, F16, BF16, Q4_0-Q8_1 and K-quants Q2_K-Q8_K: "
                     "ggml's reference (de)quantizers")

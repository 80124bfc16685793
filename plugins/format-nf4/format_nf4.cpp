// The NF4 weight-format plugin: one type, HEARTH_DTYPE_NF4 (README.md), with bitsandbytes'
// quantizer (double quantization on) and the reference dequantizer. Validation of every call
// lives here; nf4_reference.cpp assumes valid arguments.
#include <hearth/sdk/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "nf4_reference.hpp"

namespace hearth::format_nf4 {
namespace {

using sdk::PluginError;

void require_nf4(hearth_dtype dtype, const char* operation) {
  if (dtype == HEARTH_DTYPE_NF4) return;
  throw PluginError(HEARTH_ERR_UNSUPPORTED,
                    "format nf4: cannot " + std::string(operation) + " dtype " +
                        std::to_string(dtype) + ": this plugin handles only NF4 (dtype " +
                        std::to_string(HEARTH_DTYPE_NF4) +
                        "); use a format plugin that provides this type (format-gguf for GGUF's)");
}

void require_whole_blocks(int64_t n, const char* what) {
  if (n < 0 || n % kBlockElems != 0)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format nf4: " + std::string(what) + " " + std::to_string(n) +
                          (n < 0 ? " is negative"
                                 : " is not a multiple of the NF4 block size 64; rows of NF4 "
                                   "must hold whole blocks (keep such tensors in F16 or Q8_0)"));
}

class Nf4Format final : public sdk::Format {
 public:
  explicit Nf4Format(const hearth_host_api* host) : Format(host) {
    add_type(HEARTH_DTYPE_NF4, "NF4", kBlockElems, sizeof(BlockNF4));
  }

  void dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) override {
    require_nf4(dtype, "dequantize");
    require_whole_blocks(n, "element count");
    if (n == 0) return;
    if (!src || !dst)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format nf4: dequantize of " + std::to_string(n) + " elements got a null " +
                            (src ? "destination" : "source") + " pointer");
    dequantize_blocks(static_cast<const std::byte*>(src), dst, n);
  }

  // The rows of one call are one bitsandbytes tensor: its double quantization groups (256
  // blocks) and mean offset span them all. importance is not used (bnb has no such input).
  void quantize(hearth_dtype dtype, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                const float* /*importance*/) override {
    require_nf4(dtype, "quantize to");
    require_whole_blocks(n_per_row, "row length (n_per_row)");
    if (n_rows < 0)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format nf4: quantize: n_rows is " + std::to_string(n_rows));
    if (n_rows == 0 || n_per_row == 0) return;
    if (n_rows > std::numeric_limits<int64_t>::max() / n_per_row)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format nf4: quantize: " + std::to_string(n_rows) + " rows of " +
                            std::to_string(n_per_row) + " elements overflow a 64-bit count");
    if (!src || !dst)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        std::string("format nf4: quantize got a null ") +
                            (src ? "destination" : "source") + " pointer");
    const int64_t n = n_rows * n_per_row;
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(src[i]))
        throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                          "format nf4: cannot quantize to NF4: row " +
                              std::to_string(i / n_per_row) + ", column " +
                              std::to_string(i % n_per_row) + " is " + std::to_string(src[i]) +
                              "; only finite values can be quantized");
    quantize_blocks(src, static_cast<std::byte*>(dst), n, /*double_quant=*/true);
  }
};

}  // namespace
}  // namespace hearth::format_nf4

HEARTH_FORMAT_PLUGIN(hearth::format_nf4::Nf4Format, "nf4", "0.1.0",
                     "NF4 (bitsandbytes 4-bit NormalFloat, blocksize 64, double-quantized "
                     "absmax) as GGUF type 1024: reference (de)quantizers")

// The CS256 weight-format plugin: one variable-size type (HEARTH_DTYPE_CS256), its pruning
// encoder, its validator and the dense reference every CS256 kernel is tested against.
#include <hearth/sdk/plugin.hpp>

#include <cstring>
#include <string>

#include "cs256_blob.hpp"
#include "cs256_codec.hpp"

namespace hearth::format_cs256 {
namespace {

using sdk::PluginError;

void require_cs256(hearth_dtype dtype, const char* operation) {
  if (dtype != HEARTH_DTYPE_CS256)
    throw PluginError(HEARTH_ERR_UNSUPPORTED, "format cs256: cannot " + std::string(operation) +
                                                  " dtype " + std::to_string(dtype) +
                                                  "; this plugin handles CS256 (" +
                                                  std::to_string(HEARTH_DTYPE_CS256) + ") only");
}

class FormatCs256 final : public sdk::Format {
 public:
  explicit FormatCs256(const hearth_host_api* host) : Format(host) {
    // block_bytes 0: variable size (the blob's header records it).
    add_type(HEARTH_DTYPE_CS256, "CS256", 1, 0);
  }

  void dequantize(hearth_dtype dtype, const void* src, float* dst, int64_t n) override {
    require_cs256(dtype, "dequantize");
    if (!src || !dst) throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format cs256: null pointer");
    // The blob carries its own size; the GGUF reader has checked that many bytes exist.
    hearth_cs256_header h{};
    std::memcpy(&h, src, sizeof h);
    format_cs256::validate(src, h.total_bytes, h.m, h.n);
    format_cs256::dequantize(src, dst, n);
  }

  void quantize(hearth_dtype dtype, const float*, void*, int64_t, int64_t, const float*) override {
    require_cs256(dtype, "quantize");
    throw PluginError(HEARTH_ERR_UNSUPPORTED,
                      "format cs256: CS256 has no fixed block size; use encode() (`hearth convert "
                      "--to cs256`)");
  }

  std::vector<std::byte> encode(hearth_dtype dtype, const float* src, int64_t n_rows,
                                int64_t n_per_row, const float* importance,
                                const sdk::Options& options) override {
    require_cs256(dtype, "encode");
    if (!src && n_rows * n_per_row > 0)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format cs256: null source");
    return format_cs256::encode(src, n_rows, n_per_row, importance, parse_encode_options(options));
  }

  void validate(hearth_dtype dtype, const void* data, uint64_t bytes, int64_t n_rows,
                int64_t n_per_row) override {
    require_cs256(dtype, "validate");
    format_cs256::validate(data, bytes, n_rows, n_per_row);
  }
};

}  // namespace
}  // namespace hearth::format_cs256

HEARTH_FORMAT_PLUGIN(
    hearth::format_cs256::FormatCs256, "cs256", "1.0.0",
    "CS256 sparse tiles: 256-column tiles, 8-bit in-tile indices (pruning encoder)")

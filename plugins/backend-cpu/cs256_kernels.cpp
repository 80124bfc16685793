// The scalar CS256 row kernel and the run-time choice between it and the SIMD ones.
#include <hearth/sdk/half.hpp>

#include "cs256_kernels.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {

bool cs256_matrix(const void* data, Cs256Matrix& out) {
  out.base = static_cast<const unsigned char*>(data);
  std::memcpy(&out.header, data, sizeof out.header);
  out.blk_per_row =
      (static_cast<int64_t>(out.header.n) + HEARTH_CS256_TILE - 1) / HEARTH_CS256_TILE;
  return out.header.magic == HEARTH_CS256_MAGIC && out.header.version == HEARTH_CS256_VERSION &&
         hearth_cs256_compute_layout(&out.header, &out.layout) != 0;
}

void cs256_row_dot_scalar(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                          float* out) {
  float acc[kCs256TokenGroup] = {};
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  const hearth_dtype dtype = w.header.value_dtype;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    const int64_t col0 = t * HEARTH_CS256_TILE;
    for (; k < end; ++k) {
      float v;
      if (dtype == HEARTH_DTYPE_I8) {
        v = static_cast<float>(static_cast<int8_t>(values[k]));
      } else {
        uint16_t bits;
        std::memcpy(&bits, values + 2 * k, sizeof bits);
        v = dtype == HEARTH_DTYPE_F16 ? sdk::fp16_to_fp32(bits) : sdk::bf16_to_fp32(bits);
      }
      const int64_t c = col0 + indices[k];
      for (int64_t j = 0; j < n_tok; ++j) acc[j] += v * x[j][c];
    }
  }
  const float scale = dtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t j = 0; j < n_tok; ++j) out[j] = acc[j] * scale;
}

void cs256_row_dot(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                   float* out, bool simd) {
  if (simd && cpu_has_avx512_vnni()) return cs256_row_dot_avx512(w, row, x, n_tok, out);
  if (simd && cpu_has_avx2()) return cs256_row_dot_avx2(w, row, x, n_tok, out);
  cs256_row_dot_scalar(w, row, x, n_tok, out);
}

}  // namespace hearth::backend_cpu

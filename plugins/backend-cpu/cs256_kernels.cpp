// The scalar CS256 row kernel and the run-time choice between it and the SIMD ones.
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>

#include "cs256_kernels.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {

namespace {

// Value k of the blob as a float (8-bit values before the row's scale).
float value_at(const unsigned char* values, hearth_dtype dtype, uint64_t k) {
  if (dtype == HEARTH_DTYPE_I8) return static_cast<float>(static_cast<int8_t>(values[k]));
  uint16_t bits;
  std::memcpy(&bits, values + 2 * k, sizeof bits);
  return dtype == HEARTH_DTYPE_F16 ? sdk::fp16_to_fp32(bits) : sdk::bf16_to_fp32(bits);
}

}  // namespace

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
      const float v = value_at(values, dtype, k);
      const int64_t c = col0 + indices[k];
      for (int64_t j = 0; j < n_tok; ++j) acc[j] += v * x[j][c];
    }
  }
  const float scale = dtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t j = 0; j < n_tok; ++j) out[j] = acc[j] * scale;
}

void cs256_expand_row(const Cs256Matrix& w, int64_t row, float* out) {
  std::fill_n(out, w.blk_per_row * HEARTH_CS256_TILE, 0.0f);
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  const float scale = w.header.value_dtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    float* tile = out + t * HEARTH_CS256_TILE;
    for (; k < end; ++k) tile[indices[k]] = value_at(values, w.header.value_dtype, k) * scale;
  }
}

std::optional<float> cs256_halve_activations_scalar(const float* x, int64_t n, uint16_t* xh) {
  float max = 0.0f;
  for (int64_t c = 0; c < n; ++c) {
    if (!std::isfinite(x[c])) return std::nullopt;
    max = std::max(max, std::fabs(x[c]));
  }
  const int e = cs256_activation_exponent(max);
  const float scale = std::ldexp(1.0f, e);
  for (int64_t c = 0; c < n; ++c) xh[c] = sdk::fp32_to_fp16(x[c] * scale);
  return std::ldexp(1.0f, -e);
}

std::optional<float> cs256_halve_activations(const float* x, int64_t n, uint16_t* xh, bool simd) {
  if (simd && cpu_has_avx512_vnni()) return cs256_halve_activations_avx512(x, n, xh);
  return cs256_halve_activations_scalar(x, n, xh);
}

void cs256_row_dot_halves_scalar(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                                 const float* unscale, int64_t n_tok, float* out) {
  float acc[kCs256TokenGroup] = {};
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    for (; k < end; ++k) {
      const float v = value_at(values, w.header.value_dtype, k);
      for (int64_t j = 0; j < n_tok; ++j)
        acc[j] += v * sdk::fp16_to_fp32(xh[j][t * HEARTH_CS256_TILE + indices[k]]);
    }
  }
  const float scale = w.header.value_dtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t j = 0; j < n_tok; ++j) out[j] = acc[j] * (scale * unscale[j]);
}

void cs256_row_dot_halves(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                          const float* unscale, int64_t n_tok, float* out, bool simd) {
  if (simd && cpu_has_avx512_vnni())
    return cs256_row_dot_halves_avx512(w, row, xh, unscale, n_tok, out);
  cs256_row_dot_halves_scalar(w, row, xh, unscale, n_tok, out);
}

void cs256_row_dot(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                   float* out, bool simd) {
  if (simd && cpu_has_avx512_vnni()) return cs256_row_dot_avx512(w, row, x, n_tok, out);
  if (simd && cpu_has_avx2()) return cs256_row_dot_avx2(w, row, x, n_tok, out);
  cs256_row_dot_scalar(w, row, x, n_tok, out);
}

}  // namespace hearth::backend_cpu

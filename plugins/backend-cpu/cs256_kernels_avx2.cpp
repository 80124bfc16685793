// AVX2 CS256 row kernel: per chunk of 8 entries, one load of 8 indices and 8 values (F16 via
// F16C, BF16 by shifting, I8 by widening), then one 8-lane gather + FMA per token of the group.
// Tile counts are multiples of vec >= 4, so a chunk of 4 at a tile's end goes through scalar.
#include <hearth/sdk/half.hpp>

#include "cs256_kernels.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx2;

template <hearth_dtype kDtype>
HEARTH_AVX2 inline __m256 load_values8(const unsigned char* values, uint64_t k) {
  if constexpr (kDtype == HEARTH_DTYPE_F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values + 2 * k)));
  } else if constexpr (kDtype == HEARTH_DTYPE_BF16) {
    const __m256i wide =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values + 2 * k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  } else {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(values + k))));
  }
}

template <hearth_dtype kDtype>
inline float load_value(const unsigned char* values, uint64_t k) {
  if constexpr (kDtype == HEARTH_DTYPE_I8) {
    return static_cast<float>(static_cast<int8_t>(values[k]));
  } else {
    uint16_t bits;
    std::memcpy(&bits, values + 2 * k, sizeof bits);
    return kDtype == HEARTH_DTYPE_F16 ? sdk::fp16_to_fp32(bits) : sdk::bf16_to_fp32(bits);
  }
}

template <hearth_dtype kDtype>
HEARTH_AVX2 void row_dot(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                         float* out) {
  __m256 acc[kCs256TokenGroup];
  float tail[kCs256TokenGroup] = {};
  for (int64_t j = 0; j < kCs256TokenGroup; ++j) acc[j] = _mm256_setzero_ps();
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    const int64_t col0 = t * HEARTH_CS256_TILE;
    for (; k + 8 <= end; k += 8) {
      const __m256i idx =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(indices + k)));
      const __m256 v = load_values8<kDtype>(values, k);
      for (int64_t j = 0; j < n_tok; ++j)
        acc[j] = _mm256_fmadd_ps(v, _mm256_i32gather_ps(x[j] + col0, idx, 4), acc[j]);
    }
    for (; k < end; ++k) {
      const float v = load_value<kDtype>(values, k);
      const int64_t c = col0 + indices[k];
      for (int64_t j = 0; j < n_tok; ++j) tail[j] += v * x[j][c];
    }
  }
  const float scale = kDtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t j = 0; j < n_tok; ++j) out[j] = (hsum(acc[j]) + tail[j]) * scale;
}

}  // namespace

void cs256_row_dot_avx2(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                        float* out) {
  switch (w.header.value_dtype) {
    case HEARTH_DTYPE_F16:
      return row_dot<HEARTH_DTYPE_F16>(w, row, x, n_tok, out);
    case HEARTH_DTYPE_BF16:
      return row_dot<HEARTH_DTYPE_BF16>(w, row, x, n_tok, out);
    default:
      return row_dot<HEARTH_DTYPE_I8>(w, row, x, n_tok, out);
  }
}

}  // namespace hearth::backend_cpu

// AVX-512 CS256 row kernel: the inputs of an entry come from permutes of the tile's inputs, not
// from a gather. vpermt2ps picks 16 lanes out of 32 floats by the low 5 bits of each index, so
// the 256 inputs of a tile are 8 groups of 32 and a chunk of 16 entries needs one permute per
// group it touches, merged by the index's bits 5-7. Entries are stored in ascending column order
// (the spec's recommendation, and what format-cs256 writes), so 16 consecutive entries usually
// lie within 128 columns: 4 permutes and 3 blends. A chunk that does not (sparser tiles, or a
// writer that stores entries in another order) takes all 8 groups. Zen 4 runs a 16-lane gather
// at about one element per cycle; the permutes cost a few cycles per chunk.
// GCC 12's avx512fintrin.h builds several intrinsics on an undefined vector (the merge source of
// an all-lanes operation), which its own -W(maybe-)uninitialized reports from inlined code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "cs256_kernels.hpp"
#include "simd_avx512.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx512;

// The first `count` (1..16) entries' values from k on, as floats; lanes past count are zero.
template <hearth_dtype kDtype>
HEARTH_AVX512 inline __m512 load_values16(const unsigned char* values, uint64_t k, __mmask16 live) {
  if constexpr (kDtype == HEARTH_DTYPE_F16) {
    return halves_to_float(_mm256_maskz_loadu_epi16(live, values + 2 * k));
  } else if constexpr (kDtype == HEARTH_DTYPE_BF16) {
    const __m512i wide = widen_u16(_mm256_maskz_loadu_epi16(live, values + 2 * k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  } else {
    return int_to_float(widen_i8(_mm_maskz_loadu_epi8(live, values + k)));
  }
}

// Inputs 32 g .. 32 g + 31 of the tile at xt, picked by the low 5 bits of idx.
HEARTH_AVX512 inline __m512 pick(const float* xt, int g, __m512i idx) {
  return lookup32(_mm512_loadu_ps(xt + 32 * g), idx, _mm512_loadu_ps(xt + 32 * g + 16));
}

// Inputs of the chunk whose indices, less 32 g0, are all below 128 (rel).
HEARTH_AVX512 inline __m512 gather4(const float* xt, int g0, __m512i rel, __mmask16 bit5,
                                    __mmask16 bit6) {
  const __m512 low = _mm512_mask_blend_ps(bit5, pick(xt, g0, rel), pick(xt, g0 + 1, rel));
  const __m512 high = _mm512_mask_blend_ps(bit5, pick(xt, g0 + 2, rel), pick(xt, g0 + 3, rel));
  return _mm512_mask_blend_ps(bit6, low, high);
}

// Inputs of any chunk: all 8 groups, merged by bits 5, 6 and 7.
HEARTH_AVX512 inline __m512 gather8(const float* xt, __m512i idx, __mmask16 bit5, __mmask16 bit6,
                                    __mmask16 bit7) {
  __m512 half[2];
  for (int h = 0; h < 2; ++h) {
    const __m512 low = _mm512_mask_blend_ps(bit5, pick(xt, 4 * h, idx), pick(xt, 4 * h + 1, idx));
    const __m512 high =
        _mm512_mask_blend_ps(bit5, pick(xt, 4 * h + 2, idx), pick(xt, 4 * h + 3, idx));
    half[h] = _mm512_mask_blend_ps(bit6, low, high);
  }
  return _mm512_mask_blend_ps(bit7, half[0], half[1]);
}

// NT tokens at once, fixed at compile time so their accumulators stay in registers (with a
// run-time count GCC kept them on the stack, and each chunk's masked FMA became a masked store
// that the next chunk's load waited on: two thirds of the kernel's time).
template <hearth_dtype kDtype, int NT>
HEARTH_AVX512 void row_dot(const Cs256Matrix& w, int64_t row, const float* const* x, float* out) {
  __m512 acc[NT];
  for (int j = 0; j < NT; ++j) acc[j] = _mm512_setzero_ps();
  float tail[NT] = {};
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  const int64_t n = w.header.n;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    const int64_t col0 = t * HEARTH_CS256_TILE;
    if (col0 + HEARTH_CS256_TILE > n) {
      // A partial last tile: the permutes would read inputs past n, which x need not hold.
      for (; k < end; ++k) {
        const float v = _mm512_cvtss_f32(load_values16<kDtype>(values, k, 1));
        for (int j = 0; j < NT; ++j) tail[j] += v * x[j][col0 + indices[k]];
      }
      continue;
    }
    for (; k < end; k += 16) {
      const uint64_t count = end - k < 16 ? end - k : 16;
      const auto live = static_cast<__mmask16>((1u << count) - 1u);
      const __m512i idx = widen_u8(_mm_maskz_loadu_epi8(live, indices + k));
      // Dead lanes (past count) add nothing: their product is masked off, so an infinite input
      // times a zero value cannot turn the sum into NaN.
      const __m512 v = load_values16<kDtype>(values, k, live);
      const int g0 = indices[k] / 32 < 4 ? indices[k] / 32 : 4;
      const __m512i rel = _mm512_sub_epi32(idx, _mm512_set1_epi32(32 * g0));
      // Dead lanes hold index 0; rel wraps there when g0 > 0, so they are left out of the test.
      const bool near = _mm512_mask_cmplt_epu32_mask(live, rel, _mm512_set1_epi32(128)) == live;
      const __m512i by = near ? rel : idx;
      const __mmask16 bit5 = _mm512_test_epi32_mask(by, _mm512_set1_epi32(32));
      const __mmask16 bit6 = _mm512_test_epi32_mask(by, _mm512_set1_epi32(64));
      if (near) {
        for (int j = 0; j < NT; ++j)
          acc[j] =
              _mm512_mask3_fmadd_ps(v, gather4(x[j] + col0, g0, rel, bit5, bit6), acc[j], live);
      } else {
        const __mmask16 bit7 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(128));
        for (int j = 0; j < NT; ++j)
          acc[j] =
              _mm512_mask3_fmadd_ps(v, gather8(x[j] + col0, idx, bit5, bit6, bit7), acc[j], live);
      }
    }
    k = end;
  }
  const float scale = kDtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int j = 0; j < NT; ++j) out[j] = (avx512::hsum(acc[j]) + tail[j]) * scale;
}

template <hearth_dtype kDtype>
void row_dot_tokens(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                    float* out) {
  static_assert(kCs256TokenGroup == 8);
  switch (n_tok) {
    case 1:
      return row_dot<kDtype, 1>(w, row, x, out);
    case 2:
      return row_dot<kDtype, 2>(w, row, x, out);
    case 3:
      return row_dot<kDtype, 3>(w, row, x, out);
    case 4:
      return row_dot<kDtype, 4>(w, row, x, out);
    case 5:
      return row_dot<kDtype, 5>(w, row, x, out);
    case 6:
      return row_dot<kDtype, 6>(w, row, x, out);
    case 7:
      return row_dot<kDtype, 7>(w, row, x, out);
    default:
      return row_dot<kDtype, 8>(w, row, x, out);
  }
}

}  // namespace

void cs256_row_dot_avx512(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                          float* out) {
  switch (w.header.value_dtype) {
    case HEARTH_DTYPE_F16:
      return row_dot_tokens<HEARTH_DTYPE_F16>(w, row, x, n_tok, out);
    case HEARTH_DTYPE_BF16:
      return row_dot_tokens<HEARTH_DTYPE_BF16>(w, row, x, n_tok, out);
    default:
      return row_dot_tokens<HEARTH_DTYPE_I8>(w, row, x, n_tok, out);
  }
}

}  // namespace hearth::backend_cpu

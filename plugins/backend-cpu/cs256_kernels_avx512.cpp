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
#include <type_traits>

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

// fn(std::integral_constant<int, NT>{}) for NT = n_tok (1..kCs256TokenGroup): the kernels take
// their token count at compile time.
template <class Fn>
void with_token_count(int64_t n_tok, const Fn& fn) {
  static_assert(kCs256TokenGroup == 8);
  switch (n_tok) {
    case 1:
      return fn(std::integral_constant<int, 1>{});
    case 2:
      return fn(std::integral_constant<int, 2>{});
    case 3:
      return fn(std::integral_constant<int, 3>{});
    case 4:
      return fn(std::integral_constant<int, 4>{});
    case 5:
      return fn(std::integral_constant<int, 5>{});
    case 6:
      return fn(std::integral_constant<int, 6>{});
    case 7:
      return fn(std::integral_constant<int, 7>{});
    default:
      return fn(std::integral_constant<int, 8>{});
  }
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

// The F16 kernel: one vpermt2w picks 32 inputs out of 64 halves, so a chunk of 32 entries takes
// 2-4 permutes where the F32 kernel takes 8-16 for the same entries. These are the halves
// xt[64 g ..] picked by the low 6 bits of each of idx's 32 words.
HEARTH_AVX512 inline __m512i pick_halves(const uint16_t* xt, int g, __m512i idx) {
  return _mm512_maskz_permutex2var_epi16(~__mmask32{0}, _mm512_loadu_si512(xt + 64 * g), idx,
                                         _mm512_loadu_si512(xt + 64 * g + 32));
}

// acc_low/acc_high += values times the 32 picked F16 inputs. Masked FMAs: dead lanes add nothing
// (a lambda would not inherit this file's target attribute).
HEARTH_AVX512 inline void add_picked(__m512 v_low, __m512 v_high, __mmask16 live_low,
                                     __mmask16 live_high, __m512& acc_low, __m512& acc_high,
                                     __m512i picked) {
  acc_low = _mm512_mask3_fmadd_ps(v_low, halves_to_float(_mm512_castsi512_si256(picked)), acc_low,
                                  live_low);
  acc_high = _mm512_mask3_fmadd_ps(v_high, halves_to_float(_mm512_extracti64x4_epi64(picked, 1)),
                                   acc_high, live_high);
}

// The chunk of entries k.. (live lanes) of each token's tile xt[j], added to that token's
// acc_low/acc_high. Its inputs come from kWindows windows of 64 halves from its first index on
// (one permute each, merged by bits 6 and 7 of the index less that first index) when its indices
// span fewer than 64 kWindows columns, else from the tile's 4 groups of 64. The indices, the
// window test and the values are shared by the NT tokens.
template <hearth_dtype kDtype, int kWindows, int NT>
HEARTH_AVX512 inline void add_chunk(const uint16_t* const (&xt)[NT], const unsigned char* indices,
                                    const unsigned char* values, uint64_t k, __mmask32 live,
                                    __m512 (&acc_low)[NT], __m512 (&acc_high)[NT]) {
  const __m512i bit6 = _mm512_set1_epi16(64), bit7 = _mm512_set1_epi16(128);
  const auto live_low = static_cast<__mmask16>(live),
             live_high = static_cast<__mmask16>(live >> 16);
  const __m512i idx =
      _mm512_maskz_cvtepu8_epi16(~__mmask32{0}, _mm256_maskz_loadu_epi8(live, indices + k));
  constexpr int kLastBase = 256 - 64 * kWindows;
  const int base = indices[k] < kLastBase ? indices[k] : kLastBase;
  const __m512i rel = _mm512_sub_epi16(idx, _mm512_set1_epi16(static_cast<short>(base)));
  const __m512 v_low = load_values16<kDtype>(values, k, live_low);
  const __m512 v_high = load_values16<kDtype>(values, k + 16, live_high);
  // Dead lanes hold index 0; rel wraps there when base > 0, so they are left out of the test.
  if (_mm512_mask_cmplt_epu16_mask(live, rel, _mm512_set1_epi16(64 * kWindows)) == live) {
    const __mmask32 by6 = _mm512_test_epi16_mask(rel, bit6);
    const __mmask32 by7 = _mm512_test_epi16_mask(rel, bit7);
    for (int j = 0; j < NT; ++j) {
      const uint16_t* x = xt[j] + base;
      const __m512i two =
          _mm512_mask_blend_epi16(by6, pick_halves(x, 0, rel), pick_halves(x, 1, rel));
      if constexpr (kWindows == 2) {
        add_picked(v_low, v_high, live_low, live_high, acc_low[j], acc_high[j], two);
      } else {
        add_picked(v_low, v_high, live_low, live_high, acc_low[j], acc_high[j],
                   _mm512_mask_blend_epi16(by7, two, pick_halves(x, 2, rel)));
      }
    }
  } else {
    const __mmask32 by6 = _mm512_test_epi16_mask(idx, bit6);
    const __mmask32 by7 = _mm512_test_epi16_mask(idx, bit7);
    for (int j = 0; j < NT; ++j) {
      const uint16_t* x = xt[j];
      const __m512i low =
          _mm512_mask_blend_epi16(by6, pick_halves(x, 0, idx), pick_halves(x, 1, idx));
      const __m512i high =
          _mm512_mask_blend_epi16(by6, pick_halves(x, 2, idx), pick_halves(x, 3, idx));
      add_picked(v_low, v_high, live_low, live_high, acc_low[j], acc_high[j],
                 _mm512_mask_blend_epi16(by7, low, high));
    }
  }
}

template <hearth_dtype kDtype, int kWindows, int NT>
HEARTH_AVX512 void row_dot_halves(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                                  float* out) {
  __m512 acc_low[NT], acc_high[NT];
  for (int j = 0; j < NT; ++j) acc_low[j] = acc_high[j] = _mm512_setzero_ps();
  uint64_t k = w.row_pointer(row);
  const unsigned char* indices = w.base + w.layout.indices;
  const unsigned char* values = w.base + w.layout.values;
  for (int64_t t = 0; t < w.blk_per_row; ++t) {
    const uint64_t end = k + w.increment(row, t);
    const uint16_t* xt[NT];
    for (int j = 0; j < NT; ++j) xt[j] = xh[j] + t * HEARTH_CS256_TILE;
    for (; k < end; k += 32) {
      const auto live = static_cast<__mmask32>(end - k >= 32 ? ~0u : (1u << (end - k)) - 1u);
      add_chunk<kDtype, kWindows, NT>(xt, indices, values, k, live, acc_low, acc_high);
    }
    k = end;
  }
  for (int j = 0; j < NT; ++j) out[j] = hsum(_mm512_add_ps(acc_low[j], acc_high[j]));
}

// Two windows while the matrix's tiles hold 80 entries or more on average (sparsity up to about
// 69 %), three for sparser ones: 32 entries of a sparser tile often span more than 128 columns,
// and a chunk that falls to the 4-group path costs a mispredicted branch besides. Chosen per
// matrix so that the branch is predictable (per tile it was not: bench_cs256 on Zen 4, 4096^2 at
// 66 %: 1.00 ms two windows, 1.08 three, 1.09 chosen per tile; at 75 %: 1.46, 0.89, 0.91).
template <hearth_dtype kDtype>
void row_dot_halves(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh, int64_t n_tok,
                    float* out) {
  const uint64_t tiles = w.header.m * static_cast<uint64_t>(w.blk_per_row);
  const bool two_windows = w.header.nnz >= 80 * tiles;
  with_token_count(n_tok, [&](auto nt) {
    if (two_windows) return row_dot_halves<kDtype, 2, nt()>(w, row, xh, out);
    row_dot_halves<kDtype, 3, nt()>(w, row, xh, out);
  });
}

template <hearth_dtype kDtype>
void row_dot_tokens(const Cs256Matrix& w, int64_t row, const float* const* x, int64_t n_tok,
                    float* out) {
  with_token_count(n_tok, [&](auto nt) { row_dot<kDtype, nt()>(w, row, x, out); });
}

}  // namespace

HEARTH_AVX512 std::optional<float> cs256_halve_activations_avx512(const float* x, int64_t n,
                                                                  uint16_t* xh) {
  __m512 max = _mm512_setzero_ps();
  const __m512 inf = _mm512_set1_ps(INFINITY);
  __mmask16 not_finite = 0;
  for (int64_t c = 0; c < n; c += 16) {
    const auto live = static_cast<__mmask16>(n - c < 16 ? (1u << (n - c)) - 1u : 0xFFFFu);
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(live, x + c));
    // NaN compares unordered: "not less than infinity" catches it along with the infinities.
    not_finite |= _mm512_cmp_ps_mask(a, inf, _CMP_NLT_UQ);
    max = _mm512_max_ps(max, a);
  }
  if (not_finite) return std::nullopt;
  const int e = cs256_activation_exponent(_mm512_reduce_max_ps(max));
  const __m512 scale = _mm512_set1_ps(std::ldexp(1.0f, e));
  for (int64_t c = 0; c < n; c += 16) {
    const auto live = static_cast<__mmask16>(n - c < 16 ? (1u << (n - c)) - 1u : 0xFFFFu);
    const __m512 scaled = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + c), scale);
    _mm256_mask_storeu_epi16(
        xh + c, live, _mm512_cvtps_ph(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  return std::ldexp(1.0f, -e);
}

void cs256_row_dot_halves_avx512(const Cs256Matrix& w, int64_t row, const uint16_t* const* xh,
                                 const float* unscale, int64_t n_tok, float* out) {
  switch (w.header.value_dtype) {
    case HEARTH_DTYPE_F16:
      row_dot_halves<HEARTH_DTYPE_F16>(w, row, xh, n_tok, out);
      break;
    case HEARTH_DTYPE_BF16:
      row_dot_halves<HEARTH_DTYPE_BF16>(w, row, xh, n_tok, out);
      break;
    default:
      row_dot_halves<HEARTH_DTYPE_I8>(w, row, xh, n_tok, out);
  }
  const float scale = w.header.value_dtype == HEARTH_DTYPE_I8 ? w.scale(row) : 1.0f;
  for (int64_t j = 0; j < n_tok; ++j) out[j] *= scale * unscale[j];
}

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

// AVX2 tiles of Q4_K and Q6_K rows with Q8_K activations. Per super-block each row's levels are
// unpacked once for all tokens of the call and multiplied with the activation quants by maddubs,
// scaled per sub-block by madd with the sub-block scales (broadcast from one register by a byte
// shuffle), and summed in int32; the offsets (Q4_K's mins, Q6_K's -32) come in once per
// super-block through the activation's per-16 sums (bsums). The four rows' integer sums are then
// merged by horizontal adds, so one convert and one FMA per token scale all four rows.
#include <cstddef>

#include "quant_blocks.hpp"
#include "quant_tile_driver.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

namespace {

constexpr int kTokens = 2;

template <class Block>
HEARTH_AVX2 inline const Block& block_at(const char* row, int64_t i) {
  return reinterpret_cast<const Block*>(row)[i];
}

// Shuffle control broadcasting int16 lane a (0..7) of each 128-bit half to all of its lanes in
// the low half and lane b in the high half.
HEARTH_AVX2 inline __m256i pick_lanes(int a, int b) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(((2 * b + 1) << 8) | (2 * b))),
                          _mm_set1_epi16(static_cast<int16_t>(((2 * a + 1) << 8) | (2 * a))));
}

template <int T>
HEARTH_AVX2 void q4_k_rows(int64_t n, const char* const (&rows)[kTileRows], const char* const* act,
                           float (*res)[kTileRows]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[T], mins_acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = mins_acc[t] = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_rows<3>(rows, (i + 2) * static_cast<int64_t>(sizeof(BlockQ4_K)));
    __m256i scales[kTileRows], mins[kTileRows];
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      uint8_t sc[8], mn[8];
      unpack_scales_k4(block_at<BlockQ4_K>(rows[r], i).scales, sc, mn);
      const __m128i sc8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc));
      const __m128i mn8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn));
      const __m128i sc16 = _mm_cvtepu8_epi16(sc8);
      scales[r] = _mm256_set_m128i(sc16, sc16);
      mins[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mn8, mn8));  // one min per 2 bsums
    }
    __m256i sumi[kTileRows][T] = {};
#pragma GCC unroll 8
    for (int p = 0; p < 4; ++p) {
      const __m256i pick_lo = pick_lanes(2 * p, 2 * p);
      const __m256i pick_hi = pick_lanes(2 * p + 1, 2 * p + 1);
#pragma GCC unroll 8
      for (int r = 0; r < kTileRows; ++r) {
        const __m256i bits = load32(block_at<BlockQ4_K>(rows[r], i).qs + 32 * p);
        const __m256i lo = _mm256_and_si256(bits, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
        const __m256i s_lo = _mm256_shuffle_epi8(scales[r], pick_lo);
        const __m256i s_hi = _mm256_shuffle_epi8(scales[r], pick_hi);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const int8_t* q8 = block_at<BlockQ8_K>(act[t], i).qs + 64 * p;
          const __m256i plo = _mm256_madd_epi16(s_lo, _mm256_maddubs_epi16(lo, load32(q8)));
          const __m256i phi = _mm256_madd_epi16(s_hi, _mm256_maddubs_epi16(hi, load32(q8 + 32)));
          sumi[r][t] = _mm256_add_epi32(sumi[r][t], _mm256_add_epi32(plo, phi));
        }
      }
    }
    const __m256 dw = row_scales<BlockQ4_K>(rows, i, offsetof(BlockQ4_K, d));
    const __m256 mw = row_scales<BlockQ4_K>(rows, i, offsetof(BlockQ4_K, dmin));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const BlockQ8_K& y = block_at<BlockQ8_K>(act[t], i);
      const __m256 yd = _mm256_set1_ps(y.d);
      const __m256i isum = combine_rows(sumi[0][t], sumi[1][t], sumi[2][t], sumi[3][t]);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(isum), acc[t]);
      const __m256i bsums = load32(y.bsums);
      const __m256i msum =
          combine_rows(_mm256_madd_epi16(mins[0], bsums), _mm256_madd_epi16(mins[1], bsums),
                       _mm256_madd_epi16(mins[2], bsums), _mm256_madd_epi16(mins[3], bsums));
      mins_acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(mw, yd), _mm256_cvtepi32_ps(msum), mins_acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) store_rows(_mm256_sub_ps(acc[t], mins_acc[t]), res[t]);
}

// Q6_K: levels 0..63 into maddubs; sum over sub-blocks of scale * 32 * bsum is the offset.
template <int T>
HEARTH_AVX2 void q6_k_rows(int64_t n, const char* const (&rows)[kTileRows], const char* const* act,
                           float (*res)[kTileRows]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i low2 = _mm256_set1_epi8(0x03);
  __m256 acc[T];
#pragma GCC unroll 8
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    prefetch_rows<4>(rows, (i + 2) * static_cast<int64_t>(sizeof(BlockQ6_K)));
    __m256i sumi[kTileRows][T];
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      const BlockQ6_K& x = block_at<BlockQ6_K>(rows[r], i);
      const __m256i sc16 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.scales)));
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const __m256i offset =
            _mm256_madd_epi16(sc16, load32(block_at<BlockQ8_K>(act[t], i).bsums));
        sumi[r][t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
      }
#pragma GCC unroll 8
      for (int h = 0; h < 2; ++h) {
        // Scales 8h..8h+7 in both 128-bit halves.
        // (The immediate must be a constant even at -O0, where the loop is not unrolled.)
        const __m256i sc_half = h == 0 ? _mm256_permute2x128_si256(sc16, sc16, 0x00)
                                       : _mm256_permute2x128_si256(sc16, sc16, 0x11);
        const __m256i ql0 = load32(x.ql + 64 * h);
        const __m256i ql1 = load32(x.ql + 64 * h + 32);
        const __m256i qh = load32(x.qh + 32 * h);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, low4),
                            _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, low4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4)),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4))};
#pragma GCC unroll 8
        for (int k = 0; k < 4; ++k) {
          const __m256i sc = _mm256_shuffle_epi8(sc_half, pick_lanes(2 * k, 2 * k + 1));
          const int g = 4 * h + k;
#pragma GCC unroll 8
          for (int t = 0; t < T; ++t) {
            const __m256i q8 = load32(block_at<BlockQ8_K>(act[t], i).qs + 32 * g);
            sumi[r][t] =
                _mm256_add_epi32(sumi[r][t], _mm256_madd_epi16(sc, _mm256_maddubs_epi16(q[k], q8)));
          }
        }
      }
    }
    const __m256 dw = row_scales<BlockQ6_K>(rows, i, offsetof(BlockQ6_K, d));
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(block_at<BlockQ8_K>(act[t], i).d));
      const __m256i isum = combine_rows(sumi[0][t], sumi[1][t], sumi[2][t], sumi[3][t]);
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) store_rows(acc[t], res[t]);
}

}  // namespace

HEARTH_AVX2 void tile_q4_k_q8_k_avx2(int64_t n, const QuantTile& tile) {
  run_tile<kTokens>(n, tile, q4_k_rows<kTokens>, q4_k_rows<1>);
}

HEARTH_AVX2 void tile_q6_k_q8_k_avx2(int64_t n, const QuantTile& tile) {
  run_tile<kTokens>(n, tile, q6_k_rows<kTokens>, q6_k_rows<1>);
}

}  // namespace hearth::backend_cpu

// AVX2 tiles of Q4_0 and Q8_0 rows with Q8_0 activations. Per 32-element block: each row's
// quants are unpacked once for all tokens, each token's quants and scale are loaded once for all
// rows, the four rows' integer sums are merged into one vector by horizontal adds, and one
// convert and one FMA per token then scale all four rows at once.
#include "quant_blocks.hpp"
#include "quant_tile_driver.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

namespace {

constexpr int kTokens = 4;

template <class Block>
HEARTH_AVX2 inline const Block& block_at(const char* row, int64_t ib) {
  return reinterpret_cast<const Block*>(row)[ib];
}

// Q4_0: the unsigned nibbles (0..15) go into maddubs directly; the -8 offset is subtracted once
// per token as 8 * (sum of the activation quants) for each 8-byte run. maddubs pairs stay below
// 2 * 15 * 127 and runs of 8 below 2^14, so the 16-bit horizontal adds cannot wrap.
template <int T>
HEARTH_AVX2 void q4_0_rows(int64_t n, const char* const (&rows)[kTileRows], const char* const* act,
                           float (*res)[kTileRows]) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i eight = _mm256_set1_epi8(8);
  __m256 acc[T];
#pragma GCC unroll 8
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    if (ib % 4 == 0) prefetch_rows<2>(rows, (ib + 16) * static_cast<int64_t>(sizeof(BlockQ4_0)));
    __m256i q[kTileRows];
    for (int r = 0; r < kTileRows; ++r)
      q[r] = nibbles_lo_then_hi(block_at<BlockQ4_0>(rows[r], ib).qs);
    const __m256 dw = row_scales<BlockQ4_0>(rows, ib, 0);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const BlockQ8_0& y = block_at<BlockQ8_0>(act[t], ib);
      const __m256i yq = load32(y.qs);
      // Lanes per 128 bits: row 0 bytes 0-7, 8-15, row 1 bytes 0-7, 8-15, ... row 3.
      const __m256i p = _mm256_hadd_epi16(
          _mm256_hadd_epi16(_mm256_maddubs_epi16(q[0], yq), _mm256_maddubs_epi16(q[1], yq)),
          _mm256_hadd_epi16(_mm256_maddubs_epi16(q[2], yq), _mm256_maddubs_epi16(q[3], yq)));
      // 8 * (activation sum of bytes 0-7, 8-15) repeated in the same lane pattern.
      __m256i off = _mm256_maddubs_epi16(eight, yq);
      off = _mm256_hadd_epi16(off, off);
      off = _mm256_hadd_epi16(off, off);
      const __m256i sums = _mm256_madd_epi16(_mm256_sub_epi16(p, off), ones);
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(f16c_to_float(y.d)));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) store_rows(acc[t], res[t]);
}

// Q8_0: |w| times the activation with w's sign (w = -128 is 128 unsigned; activations are never
// -128), summed per 4 bytes by madd, then the four rows merged.
template <int T>
HEARTH_AVX2 void q8_0_rows(int64_t n, const char* const (&rows)[kTileRows], const char* const* act,
                           float (*res)[kTileRows]) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
#pragma GCC unroll 8
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    if (ib % 2 == 0) prefetch_rows<2>(rows, (ib + 12) * static_cast<int64_t>(sizeof(BlockQ8_0)));
    __m256i q[kTileRows], u[kTileRows];
#pragma GCC unroll 8
    for (int r = 0; r < kTileRows; ++r) {
      q[r] = load32(block_at<BlockQ8_0>(rows[r], ib).qs);
      u[r] = _mm256_sign_epi8(q[r], q[r]);
    }
    const __m256 dw = row_scales<BlockQ8_0>(rows, ib, 0);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) {
      const BlockQ8_0& y = block_at<BlockQ8_0>(act[t], ib);
      const __m256i yq = load32(y.qs);
      __m256i s[kTileRows];
#pragma GCC unroll 8
      for (int r = 0; r < kTileRows; ++r)
        s[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(u[r], _mm256_sign_epi8(yq, q[r])), ones);
      const __m256i sums = combine_rows(s[0], s[1], s[2], s[3]);
      const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(f16c_to_float(y.d)));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) store_rows(acc[t], res[t]);
}

}  // namespace

HEARTH_AVX2 void tile_q4_0_q8_0_avx2(int64_t n, const QuantTile& tile) {
  run_tile<kTokens>(n, tile, q4_0_rows<kTokens>, q4_0_rows<1>);
}

HEARTH_AVX2 void tile_q8_0_q8_0_avx2(int64_t n, const QuantTile& tile) {
  run_tile<kTokens>(n, tile, q8_0_rows<kTokens>, q8_0_rows<1>);
}

}  // namespace hearth::backend_cpu

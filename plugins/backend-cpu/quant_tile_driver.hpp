// Walks a QuantTile in groups of kTileRows rows and kTokens tokens (then single tokens) and
// calls a row-group kernel for each; only the AVX2 tile files include it.
#pragma once

#include <algorithm>

#include "quant_tiles.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu::avx2 {

// A kernel computes res[t][r] for kTileRows rows and T tokens.
template <int T>
using RowGroupKernel = void (*)(int64_t n, const char* const (&rows)[kTileRows],
                                const char* const* act, float (*res)[kTileRows]);

template <int kTokens>
HEARTH_AVX2 inline void run_tile(int64_t n, const QuantTile& tile, RowGroupKernel<kTokens> many,
                                 RowGroupKernel<1> one) {
  float res[kTokens][kTileRows];
  for (int64_t r0 = 0; r0 < tile.n_rows; r0 += kTileRows) {
    const int64_t count = std::min<int64_t>(kTileRows, tile.n_rows - r0);
    const char* rows[kTileRows];
    // Missing rows repeat the last real one: same work, results dropped (see quant_tiles.hpp).
    for (int64_t r = 0; r < kTileRows; ++r)
      rows[r] = tile.weights + (r0 + std::min(r, count - 1)) * tile.weight_stride;
    int64_t t0 = 0;
    for (; t0 + kTokens <= tile.n_tok; t0 += kTokens) {
      many(n, rows, tile.activations + t0, res);
      for (int t = 0; t < kTokens; ++t)
        for (int64_t r = 0; r < count; ++r) tile.out[t0 + t][r0 + r] = res[t][r];
    }
    for (; t0 < tile.n_tok; ++t0) {
      one(n, rows, tile.activations + t0, res);
      for (int64_t r = 0; r < count; ++r) tile.out[t0][r0 + r] = res[0][r];
    }
  }
}

// The fp16 scales at byte offset `offset` of block ib of each row, as floats in lanes 0..3 and
// again in lanes 4..7.
template <class Block>
HEARTH_AVX2 inline __m256 row_scales(const char* const (&rows)[kTileRows], int64_t ib,
                                     size_t offset) {
  uint16_t h[kTileRows];
  for (int r = 0; r < kTileRows; ++r)
    std::memcpy(&h[r], rows[r] + ib * static_cast<int64_t>(sizeof(Block)) + offset, 2);
  const __m128 d =
      _mm_cvtph_ps(_mm_set_epi16(0, 0, 0, 0, static_cast<short>(h[3]), static_cast<short>(h[2]),
                                 static_cast<short>(h[1]), static_cast<short>(h[0])));
  return _mm256_set_m128(d, d);
}

// Interleaving four rows defeats the hardware's stream detection on a matrix larger than the
// caches (a lone row is one sequential stream), so each row's bytes `ahead` of the current block
// are requested explicitly.
template <int kLines>
HEARTH_AVX2 inline void prefetch_rows(const char* const (&rows)[kTileRows], int64_t offset) {
  for (int r = 0; r < kTileRows; ++r)
    for (int l = 0; l < kLines; ++l) _mm_prefetch(rows[r] + offset + 64 * l, _MM_HINT_T0);
}

// Lanes r and r + 4 of a row-group accumulator hold the two halves of row r.
HEARTH_AVX2 inline void store_rows(__m256 acc, float (&res)[kTileRows]) {
  _mm_storeu_ps(res, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

// Four int32x8 per-row partial sums -> one vector: lane r = row r's low 128 bits summed, lane
// r + 4 = its high 128 bits summed (integers, so exact).
HEARTH_AVX2 inline __m256i combine_rows(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
  return _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
}

}  // namespace hearth::backend_cpu::avx2

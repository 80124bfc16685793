// Register-blocked MATMUL tiles for quantized weights: a few weight rows times a few activation
// columns per call, so each weight block is unpacked once for all tokens of the tile and each
// activation block (and its scale) is loaded once for all rows.
//
// Determinism: a tile always computes kTileRows rows (missing rows repeat the last real row and
// are discarded) and every token with the same per-element instruction sequence whatever the
// number of tokens of the call, so the value of (row, token) does not depend on how the rows
// were split across threads or grouped into tiles.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

inline constexpr int kTileRows = 4;

// n_rows (>= 1, any count) consecutive weight rows of n elements, w_stride bytes apart, dotted
// with n_tok quantized activation rows; the value for (row r, token t) goes to out[t][r].
struct QuantTile {
  const char* weights;
  int64_t weight_stride;
  int64_t n_rows;
  const char* const* activations;  // n_tok rows of activation blocks
  float* const* out;               // n_tok output rows, each already offset to the first row
  int64_t n_tok;
};

using QuantTileFn = void (*)(int64_t n, const QuantTile& tile);

// AVX2+FMA+F16C tiles; call only when cpu_has_avx2().
void tile_q4_0_q8_0_avx2(int64_t n, const QuantTile& tile);
void tile_q8_0_q8_0_avx2(int64_t n, const QuantTile& tile);
void tile_q4_k_q8_k_avx2(int64_t n, const QuantTile& tile);
void tile_q6_k_q8_k_avx2(int64_t n, const QuantTile& tile);

}  // namespace hearth::backend_cpu

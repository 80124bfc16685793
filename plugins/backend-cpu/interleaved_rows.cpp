#include "interleaved_rows.hpp"

#include <cstring>

#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

// Copies block ib of each of the 8 rows into group block ib: scales in row order, then the
// quants in 4-byte words, word j of every row before word j + 1 of any.
template <class Block, class Group>
void interleave_blocks(const char* rows, int64_t row_stride, int64_t n_blocks, Group* out) {
  constexpr int kWords = static_cast<int>(sizeof(Block::qs)) / 4;
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    Group& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      Block b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof(Block)), sizeof b);
      g.d[r] = b.d;
      if constexpr (requires { g.m; }) g.m[r] = b.m;
      for (int j = 0; j < kWords; ++j) std::memcpy(&g.qs[32 * j + 4 * r], &b.qs[4 * j], 4);
    }
  }
}

// Q4_K and Q5_K: row r's block b into its place in group g. The quants as the legacy types',
// per 32-byte quarter p of the super-block; the scales and mins unpacked from their 6-bit
// packing once here instead of on every GEMV.
template <class Block, class Group>
void place_affine_k_row(const Block& b, int r, Group& g) {
  g.d[r] = b.d;
  g.dmin[r] = b.dmin;
  uint8_t scales[8], mins[8];
  unpack_scales_k4(b.scales, scales, mins);
  for (int s = 0; s < 8; ++s) {
    g.scales[s][r] = scales[s];
    g.mins[s / 2][r][s % 2] = mins[s];
  }
  for (int p = 0; p < 4; ++p)
    for (int j = 0; j < 8; ++j)
      std::memcpy(&g.qs[256 * p + 32 * j + 4 * r], &b.qs[32 * p + 4 * j], 4);
}

template <class Block, class Group>
void interleave_affine_k(const char* rows, int64_t row_stride, int64_t n_blocks, Group* out) {
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    Group& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      Block b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof b), sizeof b);
      place_affine_k_row(b, r, g);
      // Q5_K's fifth bits: row r's qh words in turn, as the legacy types' quants.
      if constexpr (requires { g.qh; })
        for (int j = 0; j < 8; ++j) std::memcpy(&g.qh[j][4 * r], &b.qh[4 * j], 4);
    }
  }
}

// Q5_0's fifth bits of one row, transposed as interleaved_rows.hpp says: bit 2 j of byte b is
// element 4 j + b's, bit 2 j + 1 element 16 + 4 j + b's.
void transpose_fifth_bits(const uint8_t (&qh)[4], uint8_t* out) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof bits);
  for (int b = 0; b < 4; ++b) {
    uint8_t v = 0;
    for (int j = 0; j < 4; ++j) {
      v = static_cast<uint8_t>(v | ((bits >> (4 * j + b)) & 1u) << (2 * j));
      v = static_cast<uint8_t>(v | ((bits >> (16 + 4 * j + b)) & 1u) << (2 * j + 1));
    }
    out[b] = v;
  }
}

template <class Block, class Group>
void interleave_legacy_5bit(const char* rows, int64_t row_stride, int64_t n_blocks, Group* out) {
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    Group& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      Block b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof b), sizeof b);
      g.d[r] = b.d;
      if constexpr (requires { g.m; }) g.m[r] = b.m;
      transpose_fifth_bits(b.qh, &g.qh[4 * r]);
      for (int j = 0; j < 4; ++j) std::memcpy(&g.qs[32 * j + 4 * r], &b.qs[4 * j], 4);
    }
  }
}

void interleave_q2_k(const char* rows, int64_t row_stride, int64_t n_blocks, BlockQ2_Kx8* out) {
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    BlockQ2_Kx8& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      BlockQ2_K b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof b), sizeof b);
      g.d[r] = b.d;
      g.dmin[r] = b.dmin;
      for (int s = 0; s < kQK_K / 16; ++s) g.scales[s][r] = b.scales[s];
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < 8; ++j) std::memcpy(&g.qs[h][j][4 * r], &b.qs[32 * h + 4 * j], 4);
    }
  }
}

void interleave_q3_k(const char* rows, int64_t row_stride, int64_t n_blocks, BlockQ3_Kx8* out) {
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    BlockQ3_Kx8& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      BlockQ3_K b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof b), sizeof b);
      g.d[r] = b.d;
      int8_t scales[kQK_K / 16];
      unpack_scales_q3_k(b.scales, scales);
      for (int s = 0; s < kQK_K / 16; ++s) g.scales[s][r] = scales[s];
      for (int j = 0; j < 8; ++j) {
        std::memcpy(&g.hmask[j][4 * r], &b.hmask[4 * j], 4);
        for (int h = 0; h < 2; ++h) std::memcpy(&g.qs[h][j][4 * r], &b.qs[32 * h + 4 * j], 4);
      }
    }
  }
}

void interleave_q6_k(const char* rows, int64_t row_stride, int64_t n_blocks, BlockQ6_Kx8* out) {
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    BlockQ6_Kx8& g = out[ib];
    for (int r = 0; r < kInterleavedRows; ++r) {
      BlockQ6_K b;
      std::memcpy(&b, rows + r * row_stride + ib * static_cast<int64_t>(sizeof b), sizeof b);
      g.d[r] = b.d;
      for (int s = 0; s < kQK_K / 16; ++s) g.scales[s][r] = b.scales[s];
      for (int h = 0; h < 2; ++h) {
        for (int j = 0; j < 8; ++j) {
          std::memcpy(&g.q[h][j][0][4 * r], &b.ql[64 * h + 4 * j], 4);
          std::memcpy(&g.q[h][j][1][4 * r], &b.ql[64 * h + 32 + 4 * j], 4);
          std::memcpy(&g.q[h][j][2][4 * r], &b.qh[32 * h + 4 * j], 4);
        }
      }
    }
  }
}

}  // namespace

void describe_activations(hearth_dtype dtype, const void* activations, ActivationBlockInfo* info,
                          int64_t n_in) {
  if (dtype == HEARTH_DTYPE_Q4_0 || dtype == HEARTH_DTYPE_Q5_0 || dtype == HEARTH_DTYPE_Q8_0)
    describe_q8_0_row(activations, info, n_in / kQK);
  else if (dtype == HEARTH_DTYPE_Q4_1 || dtype == HEARTH_DTYPE_Q5_1)
    describe_q8_1_row(activations, info, n_in / kQK);
}

void describe_q8_1_row(const void* blocks, ActivationBlockInfo* info, int64_t n_blocks) {
  const auto* y = static_cast<const BlockQ8_1*>(blocks);
  for (int64_t ib = 0; ib < n_blocks; ++ib)
    info[ib] = {half_to_float(y[ib].d), 0, half_to_float(y[ib].s)};
}

void describe_q8_0_row(const void* blocks, ActivationBlockInfo* info, int64_t n_blocks) {
  const auto* y = static_cast<const BlockQ8_0*>(blocks);
  for (int64_t ib = 0; ib < n_blocks; ++ib) {
    int32_t sum = 0;
    for (int8_t q : y[ib].qs) sum += q;
    info[ib] = {half_to_float(y[ib].d), 8 * sum};
  }
}

int64_t interleaved_group_bytes(hearth_dtype dtype, int64_t n_in) {
  switch (dtype) {
    case HEARTH_DTYPE_Q4_0:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ4_0x8));
    case HEARTH_DTYPE_Q4_1:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ4_1x8));
    case HEARTH_DTYPE_Q5_1:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ5_1x8));
    case HEARTH_DTYPE_Q5_0:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ5_0x8));
    case HEARTH_DTYPE_Q8_0:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ8_0x8));
    case HEARTH_DTYPE_Q2_K:
      return n_in / kQK_K * static_cast<int64_t>(sizeof(BlockQ2_Kx8));
    case HEARTH_DTYPE_Q3_K:
      return n_in / kQK_K * static_cast<int64_t>(sizeof(BlockQ3_Kx8));
    case HEARTH_DTYPE_Q4_K:
      return n_in / kQK_K * static_cast<int64_t>(sizeof(BlockQ4_Kx8));
    case HEARTH_DTYPE_Q5_K:
      return n_in / kQK_K * static_cast<int64_t>(sizeof(BlockQ5_Kx8));
    case HEARTH_DTYPE_Q6_K:
      return n_in / kQK_K * static_cast<int64_t>(sizeof(BlockQ6_Kx8));
    default:
      return 0;
  }
}

void interleave_rows(hearth_dtype dtype, const char* rows, int64_t row_stride, int64_t n_in,
                     void* group) {
  if (dtype == HEARTH_DTYPE_Q4_0)
    interleave_blocks<BlockQ4_0>(rows, row_stride, n_in / kQK, static_cast<BlockQ4_0x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q4_1)
    interleave_blocks<BlockQ4_1>(rows, row_stride, n_in / kQK, static_cast<BlockQ4_1x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q5_1)
    interleave_legacy_5bit<BlockQ5_1>(rows, row_stride, n_in / kQK,
                                      static_cast<BlockQ5_1x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q5_0)
    interleave_legacy_5bit<BlockQ5_0>(rows, row_stride, n_in / kQK,
                                      static_cast<BlockQ5_0x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q8_0)
    interleave_blocks<BlockQ8_0>(rows, row_stride, n_in / kQK, static_cast<BlockQ8_0x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q2_K)
    interleave_q2_k(rows, row_stride, n_in / kQK_K, static_cast<BlockQ2_Kx8*>(group));
  else if (dtype == HEARTH_DTYPE_Q3_K)
    interleave_q3_k(rows, row_stride, n_in / kQK_K, static_cast<BlockQ3_Kx8*>(group));
  else if (dtype == HEARTH_DTYPE_Q4_K)
    interleave_affine_k<BlockQ4_K>(rows, row_stride, n_in / kQK_K,
                                   static_cast<BlockQ4_Kx8*>(group));
  else if (dtype == HEARTH_DTYPE_Q5_K)
    interleave_affine_k<BlockQ5_K>(rows, row_stride, n_in / kQK_K,
                                   static_cast<BlockQ5_Kx8*>(group));
  else if (dtype == HEARTH_DTYPE_Q6_K)
    interleave_q6_k(rows, row_stride, n_in / kQK_K, static_cast<BlockQ6_Kx8*>(group));
}

InterleavedGemvFn interleaved_gemv(hearth_dtype dtype) {
  if (!cpu_has_avx2()) return nullptr;
  if (cpu_has_avx512_vnni()) {
    if (dtype == HEARTH_DTYPE_Q4_0) return gemv_q4_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q4_1) return gemv_q4_1x8_q8_1_avx512;
    if (dtype == HEARTH_DTYPE_Q5_1) return gemv_q5_1x8_q8_1_avx512;
    if (dtype == HEARTH_DTYPE_Q5_0) return gemv_q5_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q8_0) return gemv_q8_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q2_K) return gemv_q2_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q3_K) return gemv_q3_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q4_K) return gemv_q4_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q5_K) return gemv_q5_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q6_K) return gemv_q6_kx8_q8_k_avx512;
  }
  if (dtype == HEARTH_DTYPE_Q4_0) return gemv_q4_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q4_1) return gemv_q4_1x8_q8_1_avx2;
  if (dtype == HEARTH_DTYPE_Q5_1) return gemv_q5_1x8_q8_1_avx2;
  if (dtype == HEARTH_DTYPE_Q5_0) return gemv_q5_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q8_0) return gemv_q8_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q2_K) return gemv_q2_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q3_K) return gemv_q3_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q4_K) return gemv_q4_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q5_K) return gemv_q5_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q6_K) return gemv_q6_kx8_q8_k_avx2;
  return nullptr;
}

InterleavedGemmFn interleaved_gemm(hearth_dtype dtype) {
  if (!cpu_has_avx2()) return nullptr;
  if (cpu_has_avx512_vnni()) {
    if (dtype == HEARTH_DTYPE_Q4_0) return gemm_q4_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q4_1) return gemm_q4_1x8_q8_1_avx512;
    if (dtype == HEARTH_DTYPE_Q5_1) return gemm_q5_1x8_q8_1_avx512;
    if (dtype == HEARTH_DTYPE_Q5_0) return gemm_q5_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q8_0) return gemm_q8_0x8_q8_0_avx512;
    if (dtype == HEARTH_DTYPE_Q2_K) return gemm_q2_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q3_K) return gemm_q3_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q4_K) return gemm_q4_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q5_K) return gemm_q5_kx8_q8_k_avx512;
    if (dtype == HEARTH_DTYPE_Q6_K) return gemm_q6_kx8_q8_k_avx512;
  }
  if (dtype == HEARTH_DTYPE_Q4_0) return gemm_q4_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q4_1) return gemm_q4_1x8_q8_1_avx2;
  if (dtype == HEARTH_DTYPE_Q5_1) return gemm_q5_1x8_q8_1_avx2;
  if (dtype == HEARTH_DTYPE_Q5_0) return gemm_q5_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q8_0) return gemm_q8_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q2_K) return gemm_q2_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q3_K) return gemm_q3_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q4_K) return gemm_q4_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q5_K) return gemm_q5_kx8_q8_k_avx2;
  if (dtype == HEARTH_DTYPE_Q6_K) return gemm_q6_kx8_q8_k_avx2;
  return nullptr;
}

}  // namespace hearth::backend_cpu

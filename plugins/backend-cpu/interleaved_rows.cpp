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
      for (int j = 0; j < kWords; ++j) std::memcpy(&g.qs[32 * j + 4 * r], &b.qs[4 * j], 4);
    }
  }
}

}  // namespace

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
    case HEARTH_DTYPE_Q8_0:
      return n_in / kQK * static_cast<int64_t>(sizeof(BlockQ8_0x8));
    default:
      return 0;
  }
}

void interleave_rows(hearth_dtype dtype, const char* rows, int64_t row_stride, int64_t n_in,
                     void* group) {
  if (dtype == HEARTH_DTYPE_Q4_0)
    interleave_blocks<BlockQ4_0>(rows, row_stride, n_in / kQK, static_cast<BlockQ4_0x8*>(group));
  else if (dtype == HEARTH_DTYPE_Q8_0)
    interleave_blocks<BlockQ8_0>(rows, row_stride, n_in / kQK, static_cast<BlockQ8_0x8*>(group));
}

InterleavedGemvFn interleaved_gemv(hearth_dtype dtype) {
  if (!cpu_has_avx2()) return nullptr;
  if (dtype == HEARTH_DTYPE_Q4_0) return gemv_q4_0x8_q8_0_avx2;
  if (dtype == HEARTH_DTYPE_Q8_0) return gemv_q8_0x8_q8_0_avx2;
  return nullptr;
}

}  // namespace hearth::backend_cpu

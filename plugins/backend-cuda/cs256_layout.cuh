// Where a CS256 blob keeps its arrays (plugins/format-cs256/README.md), computable on the device
// so a kernel can read the blob's own header instead of the host copying it back before every
// launch (which would stall the stream once per MATMUL). Mirrors hearth_cs256_compute_layout in
// abi.h, which is host-only C; the bench checks the two agree.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

#if defined(HEARTH_GPU_HIP)
#include "vendor_hip.hpp"
#else
#include <cuda_runtime.h>
#endif

namespace hearth::backend_gpu::cs256 {

inline constexpr uint32_t kTile = HEARTH_CS256_TILE;

struct Layout {
  uint64_t row_pointers, increments, indices, values, scales, total_bytes;
  uint32_t blk_per_row;
  bool ok;  // false: the header's fields are out of range and no offset is meaningful
};

__host__ __device__ inline uint64_t round_up64(uint64_t v) {
  return (v + HEARTH_CS256_ALIGN - 1) / HEARTH_CS256_ALIGN * HEARTH_CS256_ALIGN;
}

__host__ __device__ inline Layout layout_of(const hearth_cs256_header& h) {
  Layout l{};
  uint64_t value_bytes = 0;
  if (h.value_dtype == HEARTH_DTYPE_F16 || h.value_dtype == HEARTH_DTYPE_BF16)
    value_bytes = 2;
  else if (h.value_dtype == HEARTH_DTYPE_I8)
    value_bytes = 1;
  else
    return l;
  const uint64_t blk_per_row = (static_cast<uint64_t>(h.n) + kTile - 1) / kTile;
  if (h.nnz > static_cast<uint64_t>(h.m) * blk_per_row * kTile || h.nnz > (1ull << 48)) return l;
  const uint64_t blk_offset = (blk_per_row + 3) / 4 * 4;
  uint64_t at = HEARTH_CS256_ALIGN;
  l.row_pointers = at;
  at = round_up64(at + (static_cast<uint64_t>(h.m) + 1) * 4);
  l.increments = at;
  at = round_up64(at + static_cast<uint64_t>(h.m) * blk_offset *
                           ((h.flags & HEARTH_CS256_FLAG_WIDE) ? 2 : 1));
  l.indices = at;
  at = round_up64(at + h.nnz);
  l.values = at;
  at = round_up64(at + h.nnz * value_bytes);
  l.scales = at;
  if (h.value_dtype == HEARTH_DTYPE_I8) at += static_cast<uint64_t>(h.m) * 4;
  l.total_bytes = round_up64(at);
  l.blk_per_row = static_cast<uint32_t>(blk_per_row);
  l.ok = true;
  return l;
}

// The header fields a kernel relies on, against the tensor's logical shape [n, m]. Deeper
// invariants (counts vs row pointers, index order) are format-cs256's validate(), which the
// loader runs; the kernels clamp every range to [0, nnz) so a blob that skipped it still cannot
// make them read outside the blob's arrays.
__host__ __device__ inline bool header_usable(const hearth_cs256_header& h, const Layout& l,
                                              int64_t m, int64_t n) {
  return l.ok && h.magic == HEARTH_CS256_MAGIC && h.version == HEARTH_CS256_VERSION &&
         static_cast<int64_t>(h.m) == m && static_cast<int64_t>(h.n) == n &&
         h.blk_offset == (l.blk_per_row + 3) / 4 * 4 && (h.flags & ~HEARTH_CS256_FLAG_WIDE) == 0 &&
         h.nnz <= 0xffffffffull;  // RowPointers are uint32
}

// V consecutive bytes at p (V = 4 or 8; p 4- or 8-byte aligned) as byte k of word k / 4.
template <int V>
__device__ __forceinline__ void load_byte_words(const uint8_t* p, uint32_t (&words)[V / 4]) {
  if constexpr (V == 8) {
    const uint2 u = *reinterpret_cast<const uint2*>(p);
    words[0] = u.x;
    words[V / 4 - 1] = u.y;
  } else {
    words[0] = *reinterpret_cast<const uint32_t*>(p);
  }
}

// Entries [p, p + V) of a blob: their in-tile columns and raw value bits (a byte for I8 values,
// else 16 bits), the one reader of the index and value arrays the spmv/spmm and the dense decoder
// share. V = 8 or 4 needs p a multiple of V and 16-byte aligned arrays (the callers check).
template <uint32_t VT, int V>
__device__ __forceinline__ void load_raw_entries(const uint8_t* __restrict__ idx,
                                                 const uint8_t* __restrict__ val, uint64_t p,
                                                 uint32_t (&col)[V], uint32_t (&raw)[V]) {
  if constexpr (V == 1) {
    col[0] = idx[p];
    raw[0] = VT == HEARTH_DTYPE_I8 ? val[p] : reinterpret_cast<const uint16_t*>(val)[p];
  } else {
    uint32_t iw[V / 4];
    load_byte_words<V>(idx + p, iw);
#pragma unroll
    for (int k = 0; k < V; ++k) col[k] = (iw[k / 4] >> (8 * (k % 4))) & 0xffu;
    if constexpr (VT == HEARTH_DTYPE_I8) {
      uint32_t qw[V / 4];
      load_byte_words<V>(val + p, qw);
#pragma unroll
      for (int k = 0; k < V; ++k) raw[k] = (qw[k / 4] >> (8 * (k % 4))) & 0xffu;
    } else {
      uint32_t vw[V / 2];
      if constexpr (V == 8) {
        const uint4 u = *reinterpret_cast<const uint4*>(val + 2 * p);
        vw[0] = u.x, vw[1] = u.y, vw[V / 2 - 2] = u.z, vw[V / 2 - 1] = u.w;
      } else {
        const uint2 u = *reinterpret_cast<const uint2*>(val + 2 * p);
        vw[0] = u.x, vw[1] = u.y;
      }
#pragma unroll
      for (int k = 0; k < V; ++k) raw[k] = (vw[k / 2] >> (16 * (k % 2))) & 0xffffu;
    }
  }
}

}  // namespace hearth::backend_gpu::cs256

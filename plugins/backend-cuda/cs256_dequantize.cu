// CS256 -> dense F16/BF16 rows for the cuBLAS prefill route. One block of 256 threads per row
// (grid-stride over rows). The row is built in shared memory a chunk of up to 64 tiles at a
// time: the chunk's columns are zeroed, warp 0 prefix-sums the chunk's tile counts (two tiles
// per lane), each warp scatters whole tiles (lane l takes entries [a + 8 l, a + 8 l + 8) of its
// tile with one 8-byte index load and one 16-byte value load, so a warp step reads a tile's 256
// entries contiguously), and the block writes the chunk out with 16-byte stores. Every output
// byte is written once and the blob read once, so the decode costs what copying
// (dense bytes + blob bytes) costs; scattering into global memory instead would cost a
// zero-fill pass plus a partial-sector write per entry.
#include "cs256_dequantize.hpp"
#include "cs256_layout.cuh"
#include "gpu_device_code.cuh"
#include "programmatic_launch.cuh"

#if defined(HEARTH_GPU_HIP)
#define HEARTH_CS256_DQ_SHFL_UP(value, delta) __shfl_up((value), (delta), kWarp)
#define HEARTH_CS256_DQ_SHFL(value, src) __shfl((value), (src), kWarp)
#else
#define HEARTH_CS256_DQ_SHFL_UP(value, delta) __shfl_up_sync(0xffffffffu, (value), (delta), kWarp)
#define HEARTH_CS256_DQ_SHFL(value, src) __shfl_sync(0xffffffffu, (value), (src), kWarp)
#endif

namespace hearth::backend_gpu {
namespace {

using cs256::kTile;
using cs256::Layout;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarp;
// Tiles staged per pass: two per lane of the scanning warp; 32 KiB of shared memory (below the
// 48 KiB that needs no opt-in, and HIP's 64 KiB).
constexpr uint32_t kChunkTiles = 2 * kWarp;

constexpr uint16_t kF16NaN = 0x7e00u;
constexpr uint16_t kBF16NaN = 0x7fc0u;

__device__ __forceinline__ uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

// Round to nearest even, as format-cs256 and the CPU reference round (finite inputs; a NaN stays
// a quiet NaN).
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return kBF16NaN;
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ uint16_t float_to_f16_bits(float f) {
  return __half_as_ushort(__float2half_rn(f));
}

// One entry's output bits from its raw value bits (I8: the byte), or 0 when the entry writes
// nothing: its value is zero (padding, which may repeat a column, or a pruned-away weight).
// Same-type F16 and BF16 values are copied bit for bit; everything else goes through F32 as the
// CPU reference computes it (I8: q * scale).
template <uint32_t VT, Cs256DenseType OUT>
__device__ __forceinline__ uint16_t dense_bits(uint32_t raw, float scale, bool& write) {
  if constexpr (VT != HEARTH_DTYPE_I8 &&
                (VT == HEARTH_DTYPE_BF16) == (OUT == Cs256DenseType::bf16)) {
    write = (raw & 0x7fffu) != 0;
    return static_cast<uint16_t>(raw);
  } else {
    float v;
    if constexpr (VT == HEARTH_DTYPE_I8)
      v = static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(raw))) * scale;
    else if constexpr (VT == HEARTH_DTYPE_F16)
      v = half_bits_to_float(static_cast<uint16_t>(raw));
    else
      v = bf16_bits_to_float(static_cast<uint16_t>(raw));
    write = v != 0.0f;
    return OUT == Cs256DenseType::bf16 ? float_to_bf16_bits(v) : float_to_f16_bits(v);
  }
}

// Scatters entries [a, b) of one tile into its 256 staged columns, V entries per lane step;
// columns at or past width (the row's end) are dropped.
template <uint32_t VT, Cs256DenseType OUT, int V>
__device__ __forceinline__ void scatter_tile(const uint8_t* __restrict__ idx,
                                             const uint8_t* __restrict__ val, uint64_t a,
                                             uint64_t b, uint32_t width, float scale, int lane,
                                             uint16_t* tile) {
  for (uint64_t p = a + static_cast<uint64_t>(lane) * V; p < b; p += kWarp * V) {
    uint32_t col[V], raw[V];
    cs256::load_raw_entries<VT, V>(idx, val, p, col, raw);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      bool write = false;
      const uint16_t bits = dense_bits<VT, OUT>(raw[k], scale, write);
      if (write && col[k] < width) tile[col[k]] = bits;
    }
  }
}

template <uint32_t VT, Cs256DenseType OUT>
__device__ __forceinline__ void decode_rows(const uint8_t* blob, const hearth_cs256_header& h,
                                            const Layout& l, uint16_t* out, uint16_t* stage,
                                            uint32_t* tile_ends) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const auto* row_pointers = reinterpret_cast<const uint32_t*>(blob + l.row_pointers);
  const uint8_t* inc8 = blob + l.increments;
  const auto* inc16 = reinterpret_cast<const uint16_t*>(blob + l.increments);
  const uint8_t* idx = blob + l.indices;
  const uint8_t* val = blob + l.values;
  const bool wide = (h.flags & HEARTH_CS256_FLAG_WIDE) != 0;
  const bool vector_loads = reinterpret_cast<uintptr_t>(blob) % 16 == 0;
  const uint64_t n = h.n;
  const uint64_t nnz = h.nnz;
  // 16-byte stores of whole rows need every row start 16-byte aligned.
  const bool vector_stores = n % 8 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;

  for (uint64_t row = blockIdx.x; row < h.m; row += gridDim.x) {
    uint64_t start = min_u64(row_pointers[row], nnz);
    float scale = 1.0f;
    if constexpr (VT == HEARTH_DTYPE_I8)
      scale = reinterpret_cast<const float*>(blob + l.scales)[row];
    uint16_t* out_row = out + row * n;
    for (uint32_t c0 = 0; c0 < l.blk_per_row; c0 += kChunkTiles) {
      const uint32_t tiles = l.blk_per_row - c0 < kChunkTiles ? l.blk_per_row - c0 : kChunkTiles;
      const uint64_t col0 = static_cast<uint64_t>(c0) * kTile;
      const auto width = static_cast<uint32_t>(min_u64(n - col0, uint64_t{tiles} * kTile));
      for (uint32_t j = threadIdx.x; j < tiles * kTile / 8; j += kThreads)
        reinterpret_cast<uint4*>(stage)[j] = make_uint4(0u, 0u, 0u, 0u);
      if (warp == 0) {
        // tile_ends[t] = entries of the chunk's tiles before t + 1, relative to start.
        uint32_t count[2] = {0u, 0u};
#pragma unroll
        for (int k = 0; k < 2; ++k) {
          const uint32_t t = 2u * static_cast<uint32_t>(lane) + static_cast<uint32_t>(k);
          if (t < tiles) {
            const uint64_t at = row * h.blk_offset + c0 + t;
            count[k] = wide ? inc16[at] : inc8[at];
          }
        }
        uint32_t inclusive = count[0] + count[1];
#pragma unroll
        for (int d = 1; d < kWarp; d <<= 1) {
          const uint32_t below = HEARTH_CS256_DQ_SHFL_UP(inclusive, d);
          if (lane >= d) inclusive += below;
        }
        tile_ends[2 * lane] = inclusive - count[1];
        tile_ends[2 * lane + 1] = inclusive;
      }
      __syncthreads();  // the stage is zeroed and the tile ends are published

      for (uint32_t t = static_cast<uint32_t>(warp); t < tiles; t += kWarps) {
        const uint64_t a = min_u64(start + (t == 0 ? 0u : tile_ends[t - 1]), nnz);
        const uint64_t b = min_u64(start + tile_ends[t], nnz);
        const auto tile_width =
            static_cast<uint32_t>(min_u64(n - col0 - uint64_t{t} * kTile, kTile));
        uint16_t* tile = stage + t * kTile;
        if (vector_loads && a % 8 == 0 && (b - a) % 8 == 0)
          scatter_tile<VT, OUT, 8>(idx, val, a, b, tile_width, scale, lane, tile);
        else if (vector_loads && a % 4 == 0 && (b - a) % 4 == 0)
          scatter_tile<VT, OUT, 4>(idx, val, a, b, tile_width, scale, lane, tile);
        else
          scatter_tile<VT, OUT, 1>(idx, val, a, b, tile_width, scale, lane, tile);
      }
      __syncthreads();  // the chunk is complete

      if (vector_stores) {
        auto* dst = reinterpret_cast<uint4*>(out_row + col0);
        for (uint32_t j = threadIdx.x; j < width / 8; j += kThreads)
          dst[j] = reinterpret_cast<const uint4*>(stage)[j];
      } else {
        for (uint32_t j = threadIdx.x; j < width; j += kThreads) out_row[col0 + j] = stage[j];
      }
      start += tile_ends[tiles - 1];
      __syncthreads();  // the stage and tile ends are free for the next chunk
    }
  }
}

template <Cs256DenseType OUT>
__global__ void __launch_bounds__(kThreads)
    cs256_dequantize_kernel(const uint8_t* blob, int64_t m, int64_t n, uint16_t* out) {
  wait_for_prior_kernels();
  extern __shared__ __align__(16) uint16_t stage[];
  __shared__ uint32_t tile_ends[kChunkTiles];
  const hearth_cs256_header h = *reinterpret_cast<const hearth_cs256_header*>(blob);
  const Layout l = cs256::layout_of(h);
  // Uniform across the block (every thread reads the same header), like the barriers after it.
  if (!cs256::header_usable(h, l, m, n)) {
    const uint16_t nan = OUT == Cs256DenseType::bf16 ? kBF16NaN : kF16NaN;
    for (int64_t row = blockIdx.x; row < m; row += gridDim.x)
      for (int64_t j = threadIdx.x; j < n; j += kThreads) out[row * n + j] = nan;
    return;
  }
  switch (h.value_dtype) {
    case HEARTH_DTYPE_F16:
      return decode_rows<HEARTH_DTYPE_F16, OUT>(blob, h, l, out, stage, tile_ends);
    case HEARTH_DTYPE_BF16:
      return decode_rows<HEARTH_DTYPE_BF16, OUT>(blob, h, l, out, stage, tile_ends);
    default:  // header_usable admits only F16, BF16 and I8
      return decode_rows<HEARTH_DTYPE_I8, OUT>(blob, h, l, out, stage, tile_ends);
  }
}

}  // namespace

cudaError_t launch_cs256_dequantize(const hearth_tensor& w, void* out, Cs256DenseType type,
                                    cudaStream_t stream) {
  const int64_t n = w.ne[0], m = w.ne[1];
  if (n <= 0 || m <= 0) return cudaSuccess;
  if (w.data == nullptr || out == nullptr || reinterpret_cast<uintptr_t>(w.data) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(out) % 2 != 0)
    return cudaErrorInvalidValue;
  const int64_t tiles = (n + kTile - 1) / kTile;
  const size_t shared =
      static_cast<size_t>(tiles < kChunkTiles ? tiles : kChunkTiles) * kTile * sizeof(uint16_t);
  constexpr int64_t kMaxGrid = 0x7fffffff;
  const auto grid = static_cast<unsigned>(m < kMaxGrid ? m : kMaxGrid);
  const auto* blob = static_cast<const uint8_t*>(w.data);
  auto* dense = static_cast<uint16_t*>(out);
  if (type == Cs256DenseType::bf16)
    launch_after_prior(cs256_dequantize_kernel<Cs256DenseType::bf16>, grid, kThreads, shared,
                       stream, blob, m, n, dense);
  else
    launch_after_prior(cs256_dequantize_kernel<Cs256DenseType::f16>, grid, kThreads, shared, stream,
                       blob, m, n, dense);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

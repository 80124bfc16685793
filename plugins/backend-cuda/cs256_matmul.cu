// CS256 MATMUL (shared/specs/cs256.md §2, seed 002 App. A.1). A block of 256 threads owns
// 256 / LANES weight rows; each row's tiles are dealt to its LANES threads (split-K over tiles).
// The block walks the columns in chunks of LANES tiles: it stages the chunk's inputs (for up to
// NT tokens) in shared memory, each thread streams its own tile's (index, value) entries with
// 8-wide vector loads and gathers the inputs from shared memory, and the lanes' partial sums are
// combined by shuffles at the end. Tile starts come from an exclusive prefix sum of the chunk's
// increments across the row's lanes, so a thread never walks another tile's entries.
// Differences from the paper's kernel: one row per lane group (no grid-stride loop, so m needs
// no multiple of 64), LANES and NT are parameters (the paper is LANES = 4, NT = 1), and every
// entry range is clamped to [0, nnz): bad counts give wrong sums, never stray reads.
#include "cs256_layout.cuh"
#include "cs256_matmul.hpp"
#include "gpu_device_code.cuh"

#if defined(HEARTH_GPU_HIP)
#define HEARTH_CS256_SHFL_UP(value, delta, width) __shfl_up((value), (delta), (width))
#define HEARTH_CS256_SHFL(value, src, width) __shfl((value), (src), (width))
#else
#define HEARTH_CS256_SHFL_UP(value, delta, width) \
  __shfl_up_sync(0xffffffffu, (value), (delta), (width))
#define HEARTH_CS256_SHFL(value, src, width) __shfl_sync(0xffffffffu, (value), (src), (width))
#endif

namespace hearth::backend_gpu {
namespace {

using cs256::kTile;
using cs256::Layout;

constexpr int kThreads = 256;

__device__ __forceinline__ uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

template <uint32_t VT>
__device__ __forceinline__ float decode16(uint32_t bits) {
  if constexpr (VT == HEARTH_DTYPE_F16)
    return half_bits_to_float(static_cast<uint16_t>(bits));
  else
    return bf16_bits_to_float(static_cast<uint16_t>(bits));
}

__device__ __forceinline__ float decode8(uint32_t byte) {
  return static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(byte)));
}

// Entries [p, p + V) of the blob: their in-tile columns and values (I8 values unscaled).
// V = 8 or 4 needs p to be a multiple of V and 16-byte aligned arrays (the caller checks).
template <uint32_t VT, int V>
__device__ __forceinline__ void load_entries(const uint8_t* __restrict__ idx,
                                             const uint8_t* __restrict__ val, uint64_t p,
                                             uint32_t (&col)[V], float (&w)[V]) {
  if constexpr (V == 1) {
    col[0] = idx[p];
    if constexpr (VT == HEARTH_DTYPE_I8)
      w[0] = decode8(val[p]);
    else
      w[0] = decode16<VT>(reinterpret_cast<const uint16_t*>(val)[p]);
  } else {
    constexpr int kWords = V / 4;  // 32-bit words of indices
    uint32_t iw[kWords];
    if constexpr (V == 8) {
      const uint2 u = *reinterpret_cast<const uint2*>(idx + p);
      iw[0] = u.x;
      iw[kWords - 1] = u.y;
    } else {
      iw[0] = *reinterpret_cast<const uint32_t*>(idx + p);
    }
#pragma unroll
    for (int k = 0; k < V; ++k) col[k] = (iw[k / 4] >> (8 * (k % 4))) & 0xFFu;
    if constexpr (VT == HEARTH_DTYPE_I8) {
      uint32_t qw[kWords];
      if constexpr (V == 8) {
        const uint2 u = *reinterpret_cast<const uint2*>(val + p);
        qw[0] = u.x;
        qw[kWords - 1] = u.y;
      } else {
        qw[0] = *reinterpret_cast<const uint32_t*>(val + p);
      }
#pragma unroll
      for (int k = 0; k < V; ++k) w[k] = decode8(qw[k / 4] >> (8 * (k % 4)));
    } else {
      uint32_t vw[V / 2];
      if constexpr (V == 8) {
        const uint4 u = *reinterpret_cast<const uint4*>(val + 2 * p);
        vw[0] = u.x;
        vw[1] = u.y;
        vw[V / 2 - 2] = u.z;
        vw[V / 2 - 1] = u.w;
      } else {
        const uint2 u = *reinterpret_cast<const uint2*>(val + 2 * p);
        vw[0] = u.x;
        vw[1] = u.y;
      }
#pragma unroll
      for (int k = 0; k < V; ++k) w[k] = decode16<VT>((vw[k / 2] >> (16 * (k % 2))) & 0xFFFFu);
    }
  }
}

// acc[t] += sum over entries [a, b) of value * xt[column * NT + t], V entries per step. The
// NT tokens' inputs of one column are adjacent (16-byte aligned), so NT = 8 reads them with two
// 16-byte shared loads; tokens past the last are zeros there, so no per-token test is needed.
template <uint32_t VT, int V, int NT>
__device__ __forceinline__ void accumulate_range(const uint8_t* __restrict__ idx,
                                                 const uint8_t* __restrict__ val, uint64_t a,
                                                 uint64_t b, const float* xt, float (&acc)[NT]) {
  // Unrolled so several steps' loads are in flight per thread: each thread streams its own
  // tile, so memory-level parallelism has to come from within the thread.
#pragma unroll 4
  for (uint64_t p = a; p < b; p += V) {
    uint32_t col[V];
    float w[V];
    load_entries<VT, V>(idx, val, p, col, w);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float* xc = xt + static_cast<int>(col[k]) * NT;
      if constexpr (NT % 4 == 0) {
#pragma unroll
        for (int q = 0; q < NT / 4; ++q) {
          const float4 v = reinterpret_cast<const float4*>(xc)[q];
          acc[4 * q] += w[k] * v.x;
          acc[4 * q + 1] += w[k] * v.y;
          acc[4 * q + 2] += w[k] * v.z;
          acc[4 * q + 3] += w[k] * v.w;
        }
      } else {
#pragma unroll
        for (int t = 0; t < NT; ++t) acc[t] += w[k] * xc[t];
      }
    }
  }
}

// next[r] = x[col0 + threadIdx.x + r * kThreads], zero past n: one token's share of a chunk.
template <int K>
__device__ __forceinline__ void fetch_inputs(const float* x, int64_t col0, int64_t n,
                                             float (&next)[K]) {
#pragma unroll
  for (int r = 0; r < K; ++r) {
    const int64_t col = col0 + static_cast<int>(threadIdx.x) + r * kThreads;
    next[r] = col < n ? x[col] : 0.0f;
  }
}

template <int NT, int LANES, uint32_t VT>
__device__ __forceinline__ void rows_times_tokens(const uint8_t* blob, const hearth_cs256_header& h,
                                                  const Layout& l, const hearth_tensor& x,
                                                  const hearth_tensor& dst, int64_t row, int64_t t0,
                                                  int nt, float* xs) {
  constexpr int kChunk = LANES * static_cast<int>(kTile);
  const int lane = static_cast<int>(threadIdx.x) % LANES;
  const bool live = row < static_cast<int64_t>(h.m);
  const auto* row_pointers = reinterpret_cast<const uint32_t*>(blob + l.row_pointers);
  const uint8_t* inc8 = blob + l.increments;
  const auto* inc16 = reinterpret_cast<const uint16_t*>(blob + l.increments);
  const uint8_t* idx = blob + l.indices;
  const uint8_t* val = blob + l.values;
  const bool wide = (h.flags & HEARTH_CS256_FLAG_WIDE) != 0;
  const uint64_t nnz = h.nnz;
  const int64_t n = h.n;
  const bool vector_ok = reinterpret_cast<uintptr_t>(blob) % 16 == 0;

  const float* xr[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xr[t] = at_offset<const float>(x, flat_row_offset(x, t0 + (t < nt ? t : 0)));

  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  uint64_t start = live ? min_u64(row_pointers[row], nnz) : 0;

  // One token: the next chunk's inputs are loaded into registers while this chunk's entries
  // stream (the paper's prefetch), so the barrier does not wait on a cold load. Eight tokens
  // would need 32 more registers per thread; they load at the barrier.
  constexpr int kPerThread = kChunk / kThreads;
  float next[NT == 1 ? kPerThread : 1];
  if constexpr (NT == 1) fetch_inputs(xr[0], 0, n, next);

  for (uint32_t c0 = 0; c0 < l.blk_per_row; c0 += LANES) {
    __syncthreads();  // every thread is done with the previous chunk's inputs
    if constexpr (NT == 1) {
#pragma unroll
      for (int r = 0; r < kPerThread; ++r)
        xs[static_cast<int>(threadIdx.x) + r * kThreads] = next[r];
      if (c0 + LANES < l.blk_per_row)
        fetch_inputs(xr[0], static_cast<int64_t>(c0 + LANES) * kTile, n, next);
    } else {
      const int64_t col0 = static_cast<int64_t>(c0) * kTile;
#pragma unroll
      for (int t = 0; t < NT; ++t)  // coalesced global reads, token-interleaved shared layout
        for (int j = static_cast<int>(threadIdx.x); j < kChunk; j += kThreads)
          xs[j * NT + t] = (t < nt && col0 + j < n) ? xr[t][col0 + j] : 0.0f;
    }
    __syncthreads();

    const uint32_t tile = c0 + static_cast<uint32_t>(lane);
    uint32_t count = 0;
    if (live && tile < l.blk_per_row) {
      const uint64_t at = static_cast<uint64_t>(row) * h.blk_offset + tile;
      count = wide ? inc16[at] : inc8[at];
    }
    uint32_t inclusive = count;
#pragma unroll
    for (int d = 1; d < LANES; d <<= 1) {
      const uint32_t below = HEARTH_CS256_SHFL_UP(inclusive, d, LANES);
      if (lane >= d) inclusive += below;
    }
    const uint32_t chunk_total = HEARTH_CS256_SHFL(inclusive, LANES - 1, LANES);
    const uint64_t a = min_u64(start + inclusive - count, nnz);
    const uint64_t b = min_u64(start + inclusive, nnz);
    start += chunk_total;

    const float* xt = xs + lane * static_cast<int>(kTile) * NT;
    if (vector_ok && a % 8 == 0 && (b - a) % 8 == 0)
      accumulate_range<VT, 8, NT>(idx, val, a, b, xt, acc);
    else if (vector_ok && a % 4 == 0 && (b - a) % 4 == 0)
      accumulate_range<VT, 4, NT>(idx, val, a, b, xt, acc);
    else
      accumulate_range<VT, 1, NT>(idx, val, a, b, xt, acc);
  }

#pragma unroll
  for (int t = 0; t < NT; ++t)
#pragma unroll
    for (int mask = LANES / 2; mask > 0; mask >>= 1) acc[t] += HEARTH_SHFL_XOR(acc[t], mask);
  if (!live || lane != 0) return;
  float scale = 1.0f;
  if constexpr (VT == HEARTH_DTYPE_I8) scale = reinterpret_cast<const float*>(blob + l.scales)[row];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    if (t < nt) at_offset<float>(dst, flat_row_offset(dst, t0 + t))[row] = acc[t] * scale;
}

template <int NT, int LANES>
__global__ void __launch_bounds__(kThreads)
    cs256_matmul_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int64_t n_tok) {
  __shared__ __align__(16) float xs[NT * LANES * kTile];
  constexpr int kRows = kThreads / LANES;
  const auto* blob = static_cast<const uint8_t*>(w.data);
  const hearth_cs256_header h = *reinterpret_cast<const hearth_cs256_header*>(blob);
  const Layout l = cs256::layout_of(h);
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRows + threadIdx.x / LANES;
  const int64_t t0 = static_cast<int64_t>(blockIdx.y) * NT;
  const int nt = static_cast<int>(n_tok - t0 < NT ? n_tok - t0 : NT);
  // Every thread reads the same header, so these branches are uniform across the block and
  // the barriers inside stay matched.
  if (!cs256::header_usable(h, l, w.ne[1], w.ne[0])) {
    if (row < w.ne[1] && threadIdx.x % LANES == 0)
      for (int t = 0; t < nt; ++t)
        at_offset<float>(dst, flat_row_offset(dst, t0 + t))[row] = __int_as_float(0x7fc00000);
    return;
  }
  switch (h.value_dtype) {
    case HEARTH_DTYPE_F16:
      return rows_times_tokens<NT, LANES, HEARTH_DTYPE_F16>(blob, h, l, x, dst, row, t0, nt, xs);
    case HEARTH_DTYPE_BF16:
      return rows_times_tokens<NT, LANES, HEARTH_DTYPE_BF16>(blob, h, l, x, dst, row, t0, nt, xs);
    default:  // header_usable admits only F16, BF16 and I8
      return rows_times_tokens<NT, LANES, HEARTH_DTYPE_I8>(blob, h, l, x, dst, row, t0, nt, xs);
  }
}

template <int NT, int LANES>
cudaError_t launch(const hearth_op& op, int64_t n_tok, cudaStream_t stream) {
  constexpr int kRows = kThreads / LANES;
  const dim3 grid(static_cast<unsigned>((op.src[0].ne[1] + kRows - 1) / kRows),
                  static_cast<unsigned>((n_tok + NT - 1) / NT));
  cs256_matmul_kernel<NT, LANES>
      <<<grid, kThreads, 0, stream>>>(op.src[0], op.src[1], op.dst, n_tok);
  return cudaGetLastError();
}

}  // namespace

Cs256Kernel choose_cs256_kernel(int64_t n_tok, int64_t n_in) {
  if (n_tok > 1) return Cs256Kernel::kSpmm8Quad;
  // Sixteen lanes keep more rows' loads in flight per block and need one staging pass for
  // 4096 inputs; with fewer than 16 tiles most of them would idle.
  return n_in >= 16 * static_cast<int64_t>(kTile) ? Cs256Kernel::kSpmvWide : Cs256Kernel::kSpmvQuad;
}

cudaError_t launch_cs256_matmul_with(Cs256Kernel kernel, const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_tok = x.ne[1] * x.ne[2] * x.ne[3];
  if (w.ne[1] == 0 || n_tok == 0) return cudaSuccess;
  if (reinterpret_cast<uintptr_t>(w.data) % 16 != 0) return cudaErrorInvalidValue;
  switch (kernel) {
    case Cs256Kernel::kSpmvQuad:
      return launch<1, 4>(op, n_tok, stream);
    case Cs256Kernel::kSpmvWide:
      return launch<1, 16>(op, n_tok, stream);
    case Cs256Kernel::kSpmm8Quad:
      return launch<8, 4>(op, n_tok, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_cs256_matmul(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& x = op.src[1];
  return launch_cs256_matmul_with(choose_cs256_kernel(x.ne[1] * x.ne[2] * x.ne[3], op.src[0].ne[0]),
                                  op, stream);
}

}  // namespace hearth::backend_gpu

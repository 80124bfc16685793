// CS256 MATMUL (shared/specs/cs256.md §2, seed 002 App. A.1), two kernel families.
// Tile-split (the paper's shape): a block of 256 threads owns 256 / LANES weight rows; each
// row's tiles are dealt to its LANES threads (split-K over tiles). The block walks the columns in
// chunks of LANES tiles: it stages the chunk's inputs (for up to NT tokens) in shared memory,
// each thread streams its own tile's (index, value) entries with 8-wide vector loads and gathers
// the inputs from shared memory, and the lanes' partial sums are combined by shuffles at the end.
// Tile starts come from an exclusive prefix sum of the chunk's increments across the row's lanes.
// Warp-row (below, "warp-row spmv"): a warp streams one row's entries with coalesced loads, the
// whole input row staged once per block. It is the answer to the tile-split kernels' per-thread,
// uncoalesced streams, measured at 30-39 % of copy bandwidth (docs/benchmarks.md, third lease).
// Differences from the paper's kernel: m needs no multiple of 64, LANES and NT are parameters
// (the paper is LANES = 4, NT = 1), and every entry range is clamped to [0, nnz): bad counts give
// wrong sums, never stray reads.
#include "cs256_layout.cuh"
#include "cs256_matmul.hpp"
#include "gpu_device_code.cuh"
#include "programmatic_launch.cuh"

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
template <uint32_t VT, int V>
__device__ __forceinline__ void load_entries(const uint8_t* __restrict__ idx,
                                             const uint8_t* __restrict__ val, uint64_t p,
                                             uint32_t (&col)[V], float (&w)[V]) {
  uint32_t raw[V];
  cs256::load_raw_entries<VT, V>(idx, val, p, col, raw);
#pragma unroll
  for (int k = 0; k < V; ++k) {
    if constexpr (VT == HEARTH_DTYPE_I8)
      w[k] = decode8(raw[k]);
    else
      w[k] = decode16<VT>(raw[k]);
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
  wait_for_prior_kernels();
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
  launch_after_prior(cs256_matmul_kernel<NT, LANES>, grid, kThreads, 0, stream, op.src[0],
                     op.src[1], op.dst, n_tok);
  return cudaGetLastError();
}

// ---------------------------------------------------------------- warp-row spmv
// One warp (32 lanes) owns one row at a time. Its lanes read the row's tile counts (two tiles
// per lane, so rows of up to 64 tiles), prefix-sum them across the warp, then stream the row's
// entries in warp steps of 32 * V: lane l takes entries [s + l V, s + l V + V) with one vector
// load of indices and one of values, so a warp step reads one contiguous span of each array.
// A lane's V entries lie in one tile when every count of the row is a multiple of V (checked per
// row; V drops to 4, then 1, where it is not), and the lane finds that tile by a binary search
// over the warp's prefix sums with shuffles. The whole input row sits in shared memory, staged
// once per block, so the rows need no barriers. U steps' loads are issued before any of them is
// used: U warp steps of bytes in flight per warp is what keeps the memory system busy.

constexpr int kRowWarps = 16;  // rows in flight per block
constexpr int kRowThreads = kRowWarps * kWarp;

// V entries' raw bits: indices (a byte each) and values (2 bytes, or 1 for I8).
template <uint32_t VT, int V>
struct EntryBits {
  static constexpr int kIdxWords = V >= 4 ? V / 4 : 1;
  static constexpr int kValWords = VT == HEARTH_DTYPE_I8 ? kIdxWords : (V >= 2 ? V / 2 : 1);
  uint32_t idx[kIdxWords];
  uint32_t val[kValWords];
};

// Entries [p, p + V); p is a multiple of V and the arrays 16-byte aligned (the caller checks).
template <uint32_t VT, int V>
__device__ __forceinline__ void load_bits(const uint8_t* __restrict__ idx,
                                          const uint8_t* __restrict__ val, uint64_t p,
                                          EntryBits<VT, V>& e) {
  constexpr bool kByteValues = VT == HEARTH_DTYPE_I8;
  if constexpr (V == 8) {
    const uint2 i = *reinterpret_cast<const uint2*>(idx + p);
    e.idx[0] = i.x;
    e.idx[1] = i.y;
    if constexpr (kByteValues) {
      const uint2 v = *reinterpret_cast<const uint2*>(val + p);
      e.val[0] = v.x;
      e.val[1] = v.y;
    } else {
      const uint4 v = *reinterpret_cast<const uint4*>(val + 2 * p);
      e.val[0] = v.x;
      e.val[1] = v.y;
      e.val[2] = v.z;
      e.val[3] = v.w;
    }
  } else if constexpr (V == 4) {
    e.idx[0] = *reinterpret_cast<const uint32_t*>(idx + p);
    if constexpr (kByteValues) {
      e.val[0] = *reinterpret_cast<const uint32_t*>(val + p);
    } else {
      const uint2 v = *reinterpret_cast<const uint2*>(val + 2 * p);
      e.val[0] = v.x;
      e.val[1] = v.y;
    }
  } else {
    e.idx[0] = idx[p];
    if constexpr (kByteValues)
      e.val[0] = val[p];
    else
      e.val[0] = reinterpret_cast<const uint16_t*>(val)[p];
  }
}

template <uint32_t VT, int V>
__device__ __forceinline__ uint32_t column_of(const EntryBits<VT, V>& e, int k) {
  return (e.idx[k / 4] >> (8 * (k % 4))) & 0xFFu;
}

template <uint32_t VT, int V>
__device__ __forceinline__ float weight_of(const EntryBits<VT, V>& e, int k) {
  if constexpr (VT == HEARTH_DTYPE_I8)
    return decode8(e.val[k / 4] >> (8 * (k % 4)));
  else
    return decode16<VT>((e.val[k / 2] >> (16 * (k % 2))) & 0xFFFFu);
}

// What a warp knows about its row: where its entries start, how many there are, and per lane
// the end of tile 2 lane + 1 (`ends`) and of tile 2 lane (`mids`), counted from the row start.
struct RowTiles {
  uint64_t start;
  uint32_t total;
  uint32_t ends, mids;
  uint32_t vec;  // the widest of 8, 4, 1 that divides every count and the start
};

__device__ __forceinline__ RowTiles row_tiles(const uint8_t* blob, const hearth_cs256_header& h,
                                              const Layout& l, int64_t row, int lane) {
  const uint32_t t0 = 2u * static_cast<uint32_t>(lane);
  const uint64_t at = static_cast<uint64_t>(row) * h.blk_offset + t0;
  uint32_t c0 = 0, c1 = 0;
  if (h.flags & HEARTH_CS256_FLAG_WIDE) {
    const auto* inc = reinterpret_cast<const uint16_t*>(blob + l.increments);
    if (t0 < l.blk_per_row) c0 = inc[at];
    if (t0 + 1 < l.blk_per_row) c1 = inc[at + 1];
  } else {
    const uint8_t* inc = blob + l.increments;
    if (t0 < l.blk_per_row) c0 = inc[at];
    if (t0 + 1 < l.blk_per_row) c1 = inc[at + 1];
  }
  uint32_t ends = c0 + c1;
#pragma unroll
  for (int d = 1; d < kWarp; d <<= 1) {
    const uint32_t below = HEARTH_CS256_SHFL_UP(ends, d, kWarp);
    if (lane >= d) ends += below;
  }
  RowTiles r;
  r.start = min_u64(reinterpret_cast<const uint32_t*>(blob + l.row_pointers)[row], h.nnz);
  r.total = HEARTH_CS256_SHFL(ends, kWarp - 1, kWarp);
  r.ends = ends;
  r.mids = ends - c1;
  // The warp-wide AND of "divides", as a shuffle reduction: a 64-wide wave holds two rows.
  uint32_t div8 = (c0 % 8 == 0 && c1 % 8 == 0) ? 1u : 0u;
  uint32_t div4 = (c0 % 4 == 0 && c1 % 4 == 0) ? 1u : 0u;
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) {
    div8 &= HEARTH_SHFL_XOR(div8, mask);
    div4 &= HEARTH_SHFL_XOR(div4, mask);
  }
  r.vec = (div8 != 0 && r.start % 8 == 0) ? 8u : (div4 != 0 && r.start % 4 == 0) ? 4u : 1u;
  return r;
}

// Asks L2 for the row's index and value bytes (prefetch_to_l2), one lane each.
template <uint32_t VT>
__device__ __forceinline__ void prefetch_row_to_l2(const uint8_t* idx, const uint8_t* val,
                                                   uint64_t nnz, const RowTiles& r, int lane) {
  if (lane > 1 || r.start + r.total > nnz) return;
  const uint64_t bytes_per = lane == 0 || VT == HEARTH_DTYPE_I8 ? 1 : 2;
  const uint8_t* base = lane == 0 ? idx : val;
  prefetch_to_l2(base + r.start * bytes_per, base + (r.start + r.total) * bytes_per);
}

// The tile holding entry e of the row (e < total): the first tile whose end exceeds e.
__device__ __forceinline__ uint32_t tile_of(uint32_t e, const RowTiles& r) {
  int lo = 0;  // lanes below lo all have ends <= e
#pragma unroll
  for (int step = kWarp / 2; step > 0; step >>= 1) {
    const uint32_t end = HEARTH_CS256_SHFL(r.ends, lo + step - 1, kWarp);
    if (end <= e) lo += step;
  }
  const uint32_t mid = HEARTH_CS256_SHFL(r.mids, lo, kWarp);
  return 2u * static_cast<uint32_t>(lo) + (e >= mid ? 1u : 0u);
}

// acc[t] += this lane's share of row . x_t: entries clamped to [0, nnz), inputs from shared
// memory, column c of token t at xs[c NT + t] (NT = 4, 8: one or two 16-byte loads a column).
template <uint32_t VT, int V, int U, int NT>
__device__ __forceinline__ void stream_row(const uint8_t* __restrict__ idx,
                                           const uint8_t* __restrict__ val, uint64_t nnz,
                                           const RowTiles& r, int lane, const float* xs,
                                           float (&acc)[NT]) {
  constexpr uint32_t kStep = kWarp * V;
  for (uint32_t s = 0; s < r.total; s += U * kStep) {  // uniform across the warp
    EntryBits<VT, V> bits[U]{};
    uint32_t col0[U];
    bool live[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const uint32_t e = s + u * kStep + static_cast<uint32_t>(lane) * V;
      col0[u] = tile_of(e, r) * kTile;  // every lane: the search shuffles
      live[u] = e < r.total && r.start + e + V <= nnz;
      if (live[u]) load_bits<VT, V>(idx, val, r.start + e, bits[u]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (!live[u]) continue;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const float w = weight_of<VT, V>(bits[u], k);
        const float* xc = xs + (col0[u] + column_of<VT, V>(bits[u], k)) * NT;
        if constexpr (NT % 4 == 0) {
#pragma unroll
          for (int q = 0; q < NT / 4; ++q) {
            const float4 v = reinterpret_cast<const float4*>(xc)[q];
            acc[4 * q] += w * v.x;
            acc[4 * q + 1] += w * v.y;
            acc[4 * q + 2] += w * v.z;
            acc[4 * q + 3] += w * v.w;
          }
        } else if constexpr (NT == 2) {
          const float2 v = *reinterpret_cast<const float2*>(xc);
          acc[0] += w * v.x;
          acc[1] += w * v.y;
        } else {
#pragma unroll
          for (int t = 0; t < NT; ++t) acc[t] += w * xc[t];
        }
      }
    }
  }
}

// xs[c NT + t] = x_t[c] for c < n and t < nt, 0 elsewhere up to the padded width: the whole
// input rows of the block's tokens (tokens past nt are zeros, so no per-token test later).
template <int NT>
__device__ __forceinline__ void stage_inputs(const hearth_tensor& x, int64_t t0, int nt, int64_t n,
                                             uint32_t padded, float* xs) {
  const auto tid = static_cast<uint32_t>(threadIdx.x);
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float* xt = at_offset<const float>(x, flat_row_offset(x, t0 + (t < nt ? t : 0)));
    if (NT == 1 && reinterpret_cast<uintptr_t>(xt) % 16 == 0 && n % 4 == 0) {
      const auto n4 = static_cast<uint32_t>(n / 4);
      for (uint32_t j = tid; j < padded / 4; j += blockDim.x)
        reinterpret_cast<float4*>(xs)[j] =
            j < n4 ? reinterpret_cast<const float4*>(xt)[j] : make_float4(0.f, 0.f, 0.f, 0.f);
    } else {
      for (uint32_t j = tid; j < padded; j += blockDim.x)
        xs[j * NT + t] = (t < nt && j < n) ? xt[j] : 0.0f;
    }
  }
}

template <uint32_t VT, int NT, int U>
__device__ __forceinline__ void warp_rows(const uint8_t* blob, const hearth_cs256_header& h,
                                          const Layout& l, const hearth_tensor& x,
                                          const hearth_tensor& dst, int64_t t0, int nt, float* xs) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kRowWarps;
  const int64_t m = h.m;
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowWarps + threadIdx.x / kWarp;
  const uint8_t* idx = blob + l.indices;
  const uint8_t* val = blob + l.values;
  // The first row's counts are read, and its entries asked into L2, before waiting for the prior
  // kernel (no kernel writes weights): their latency overlaps that kernel's tail and the staging
  // of x, which is read only after the wait.
  RowTiles r{};
  if (row < m) {
    r = row_tiles(blob, h, l, row, lane);
    prefetch_row_to_l2<VT>(idx, val, h.nnz, r, lane);
  }
  await_prior_kernel();
  stage_inputs<NT>(x, t0, nt, h.n, l.blk_per_row * kTile, xs);
  __syncthreads();

  while (row < m) {
    float acc[NT];
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
    if (r.vec == 8)
      stream_row<VT, 8, U, NT>(idx, val, h.nnz, r, lane, xs, acc);
    else if (r.vec == 4)
      stream_row<VT, 4, U, NT>(idx, val, h.nnz, r, lane, xs, acc);
    else
      stream_row<VT, 1, U, NT>(idx, val, h.nnz, r, lane, xs, acc);
    float scale = 1.0f;
    if constexpr (VT == HEARTH_DTYPE_I8)
      scale = reinterpret_cast<const float*>(blob + l.scales)[row];
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float sum = warp_sum(acc[t]);
      if (lane == 0 && t < nt)
        at_offset<float>(dst, flat_row_offset(dst, t0 + t))[row] = sum * scale;
    }
    row += stride;
    if (row < m) r = row_tiles(blob, h, l, row, lane);
  }
}

#if defined(HEARTH_GPU_HIP)
#define HEARTH_CS256_ROW_BOUNDS(min_blocks) __launch_bounds__(kRowThreads)
#else
#define HEARTH_CS256_ROW_BOUNDS(min_blocks) __launch_bounds__(kRowThreads, min_blocks)
#endif

// blockIdx.y: the group of NT tokens, counted from group g0. Dynamic shared memory: the padded
// input rows of the group's tokens.
template <int NT, int U, int kMinBlocks>
__global__ void HEARTH_CS256_ROW_BOUNDS(kMinBlocks)
    cs256_warp_row_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int64_t n_tok,
                          int64_t g0) {
  allow_next_launch();  // warp_rows waits for the prior kernel after its first weight reads
  extern __shared__ __align__(16) float row_inputs[];
  const auto* blob = static_cast<const uint8_t*>(w.data);
  const hearth_cs256_header h = *reinterpret_cast<const hearth_cs256_header*>(blob);
  const Layout l = cs256::layout_of(h);
  const int64_t t0 = (g0 + blockIdx.y) * NT;
  const int nt = static_cast<int>(n_tok - t0 < NT ? n_tok - t0 : NT);
  // Uniform across the block (every thread reads the same header), like the barrier after it.
  if (!cs256::header_usable(h, l, w.ne[1], w.ne[0]) || l.blk_per_row > 2 * kWarp) {
    await_prior_kernel();
    for (int t = 0; t < nt; ++t) {
      float* y = at_offset<float>(dst, flat_row_offset(dst, t0 + t));
      for (int64_t row = static_cast<int64_t>(blockIdx.x) * kRowThreads + threadIdx.x;
           row < w.ne[1]; row += static_cast<int64_t>(gridDim.x) * kRowThreads)
        y[row] = __int_as_float(0x7fc00000);
    }
    return;
  }
  switch (h.value_dtype) {
    case HEARTH_DTYPE_F16:
      return warp_rows<HEARTH_DTYPE_F16, NT, U>(blob, h, l, x, dst, t0, nt, row_inputs);
    case HEARTH_DTYPE_BF16:
      return warp_rows<HEARTH_DTYPE_BF16, NT, U>(blob, h, l, x, dst, t0, nt, row_inputs);
    default:  // header_usable admits only F16, BF16 and I8
      return warp_rows<HEARTH_DTYPE_I8, NT, U>(blob, h, l, x, dst, t0, nt, row_inputs);
  }
}

// Streaming multiprocessors of the current device (128 if the query fails: it only sizes the
// grid of the resident variant).
int sm_count() {
  int device = 0;
  int count = 0;
#if defined(HEARTH_GPU_HIP)
  if (hipGetDevice(&device) != hipSuccess ||
      hipDeviceGetAttribute(&count, hipDeviceAttributeMultiprocessorCount, device) != hipSuccess)
    count = 0;
#else
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
    count = 0;
#endif
  static_cast<void>(cudaGetLastError());
  return count > 0 ? count : 128;
}

constexpr int64_t kMaxGridY = 65535;

// Bytes of dynamic shared memory a block may use: above 48 KiB a kernel has to opt in, up to
// 227 KiB on sm_90 (the HIP build's gfx10 targets have 64 KiB of LDS per workgroup).
constexpr size_t kSharedNoOptIn = 48 * 1024;
#if defined(HEARTH_GPU_HIP)
constexpr size_t kSharedMax = 64 * 1024;
#else
constexpr size_t kSharedMax = 227 * 1024;
#endif

size_t warp_row_shared_bytes(int nt, int64_t n_in) {
  const int64_t tiles = (n_in + kTile - 1) / kTile;
  return static_cast<size_t>(tiles) * kTile * sizeof(float) * static_cast<size_t>(nt);
}

// resident: about one wave of resident blocks walks all rows (each block stages its inputs
// once); otherwise a block per 16 rows.
template <int NT, int U, int kMinBlocks>
cudaError_t launch_warp_rows(const hearth_op& op, int64_t n_tok, bool resident,
                             cudaStream_t stream) {
  const auto kernel = cs256_warp_row_kernel<NT, U, kMinBlocks>;
  const int64_t m = op.src[0].ne[1];
  const size_t shared = warp_row_shared_bytes(NT, op.src[0].ne[0]);
  if (shared > kSharedNoOptIn) {
#if defined(HEARTH_GPU_HIP)
    const cudaError_t err =
        hipFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                            hipFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
#else
    const cudaError_t err = cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared));
#endif
    if (err != cudaSuccess) return err;
  }
  int64_t blocks = (m + kRowWarps - 1) / kRowWarps;
  if (resident) {
    int per_sm = 0;
#if defined(HEARTH_GPU_HIP)
    if (hipOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kRowThreads, shared) !=
        hipSuccess)
      per_sm = 0;
#else
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kRowThreads, shared) !=
        cudaSuccess)
      per_sm = 0;
#endif
    static_cast<void>(cudaGetLastError());
    const int64_t wave = static_cast<int64_t>(sm_count()) * (per_sm > 0 ? per_sm : 1);
    blocks = blocks < wave ? blocks : wave;
  }
  const int64_t groups = (n_tok + NT - 1) / NT;
  for (int64_t first = 0; first < groups; first += kMaxGridY) {
    const int64_t count = groups - first < kMaxGridY ? groups - first : kMaxGridY;
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(count));
    launch_after_prior(cs256_warp_row_kernel<NT, U, kMinBlocks>, grid, kRowThreads, shared, stream,
                       op.src[0], op.src[1], op.dst, n_tok, first);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

}  // namespace

bool cs256_kernel_takes(Cs256Kernel kernel, int64_t n_in) {
  // The warp-row kernels keep a row's tile ends in two tiles per lane: at most 64 tiles.
  const bool row_fits = n_in <= 2 * kWarp * static_cast<int64_t>(kTile);
  switch (kernel) {
    case Cs256Kernel::kSpmvQuad:
    case Cs256Kernel::kSpmvWide:
    case Cs256Kernel::kSpmm8Quad:
      return true;
    case Cs256Kernel::kSpmvWarp:
    case Cs256Kernel::kSpmvWarpLight:
    case Cs256Kernel::kSpmvWarpResident:
      return row_fits && warp_row_shared_bytes(1, n_in) <= kSharedNoOptIn;
    case Cs256Kernel::kSpmmWarp2:
      return row_fits && warp_row_shared_bytes(2, n_in) <= kSharedMax;
    case Cs256Kernel::kSpmmWarp4:
      return row_fits && warp_row_shared_bytes(4, n_in) <= kSharedMax;
    case Cs256Kernel::kSpmmWarp8:
      return row_fits && warp_row_shared_bytes(8, n_in) <= kSharedMax;
  }
  return false;
}

Cs256Kernel choose_cs256_kernel(int64_t n_tok, int64_t n_in) {
  if (n_tok == 1) {
    // Measured on the H200 (docs/benchmarks.md, fourth lease): the resident grid was within a
    // few percent of the fastest 1-token kernel at every 7B shape and sparsity, and fastest on
    // the largest ones.
    if (cs256_kernel_takes(Cs256Kernel::kSpmvWarpResident, n_in))
      return Cs256Kernel::kSpmvWarpResident;
    // Sixteen lanes keep more rows' loads in flight per block and need one staging pass for
    // 4096 inputs; with fewer than 16 tiles most of them would idle.
    return n_in >= 16 * static_cast<int64_t>(kTile) ? Cs256Kernel::kSpmvWide
                                                    : Cs256Kernel::kSpmvQuad;
  }
  // 2-8 tokens (batched decode): one pass over the blob where the inputs fit in shared memory,
  // else the widest warp-row kernel that fits. Prefill stays on the tile-split kernel.
  if (n_tok <= 8) {
    // The 8-token kernel measured slower than two passes of the 4-token one at every 7B shape.
    const Cs256Kernel by_width[] = {Cs256Kernel::kSpmmWarp2, Cs256Kernel::kSpmmWarp4};
    const int64_t width[] = {2, 4};
    for (int k = 0; k < 2; ++k)
      if (width[k] >= n_tok && cs256_kernel_takes(by_width[k], n_in)) return by_width[k];
    for (int k = 1; k >= 0; --k)
      if (cs256_kernel_takes(by_width[k], n_in)) return by_width[k];
  }
  return Cs256Kernel::kSpmm8Quad;
}

cudaError_t launch_cs256_matmul_with(Cs256Kernel kernel, const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_tok = x.ne[1] * x.ne[2] * x.ne[3];
  if (!cs256_kernel_takes(kernel, w.ne[0])) return cudaErrorInvalidValue;
  if (w.ne[1] == 0 || n_tok == 0) return cudaSuccess;
  if (reinterpret_cast<uintptr_t>(w.data) % 16 != 0) return cudaErrorInvalidValue;
  switch (kernel) {
    case Cs256Kernel::kSpmvQuad:
      return launch<1, 4>(op, n_tok, stream);
    case Cs256Kernel::kSpmvWide:
      return launch<1, 16>(op, n_tok, stream);
    case Cs256Kernel::kSpmm8Quad:
      return launch<8, 4>(op, n_tok, stream);
    case Cs256Kernel::kSpmvWarp:
      return launch_warp_rows<1, 4, 2>(op, n_tok, false, stream);
    case Cs256Kernel::kSpmvWarpLight:
      return launch_warp_rows<1, 2, 3>(op, n_tok, false, stream);
    case Cs256Kernel::kSpmvWarpResident:
      // Three steps in flight, not four: 0.99-1.06x on the 7B shapes at 50-75 % (H200,
      // docs/benchmarks.md "Thirteenth lease"). Why was not isolated; it holds at 50 % too, where
      // a row is whole batches of four, so it is not only fewer idle lanes in a row's last batch.
      return launch_warp_rows<1, 3, 2>(op, n_tok, true, stream);
    case Cs256Kernel::kSpmmWarp2:
      return launch_warp_rows<2, 2, 2>(op, n_tok, true, stream);
    case Cs256Kernel::kSpmmWarp4:
      return launch_warp_rows<4, 2, 2>(op, n_tok, true, stream);
    case Cs256Kernel::kSpmmWarp8:
      return launch_warp_rows<8, 2, 1>(op, n_tok, true, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_cs256_matmul(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& x = op.src[1];
  return launch_cs256_matmul_with(choose_cs256_kernel(x.ne[1] * x.ne[2] * x.ne[3], op.src[0].ne[0]),
                                  op, stream);
}

}  // namespace hearth::backend_gpu

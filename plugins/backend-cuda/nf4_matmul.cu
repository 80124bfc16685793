// MATMUL with NF4 weights, dequantization fused into the dot products: the weight is read
// straight from its 36-byte blocks and never written back. Two kernels: 1-4 tokens (decode,
// small batches) with aligned rows run the GEMV further down; everything else runs the tiled
// kernel, which reads the weight once per tile of up to 8 tokens.
// Tiled kernel: work item = (group of kNf4Rows rows, chunk of kNf4ChunkUnits code words of each
// row). The grid is persistent (about one wave of blocks); a block walks its row groups chunk by
// chunk and loads the next item's code words and scales into registers before it computes the
// current one. 256 threads split each chunk (so every activation load serves kNf4Rows rows);
// warp shuffles and a double-buffered shared array finish a row group's dot products.
// Accumulation is fp32 in both.
#include "nf4_decode.cuh"
#include "nf4_kernels.hpp"
#include "programmatic_launch.cuh"
#if !defined(HEARTH_GPU_HIP)
#include "nf4_gemv_tma.hpp"
#endif

namespace hearth::backend_gpu {
namespace {

constexpr int kNf4Threads = 256;
constexpr int kNf4Warps = kNf4Threads / kWarp;
constexpr int kNf4Rows = 4;
constexpr int kNf4UnitsPerThread = 2;
constexpr int kNf4ChunkUnits = kNf4Threads * kNf4UnitsPerThread;
constexpr int64_t kMaxGridY = 65535;

// Eight activations starting at p; vec says p is 16-byte aligned.
__device__ __forceinline__ void load_x8(const float* p, bool vec, float (&x)[8]) {
  if (vec) {
    const float4 a = reinterpret_cast<const float4*>(p)[0];
    const float4 b = reinterpret_cast<const float4*>(p)[1];
    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w, x[4] = b.x, x[5] = b.y, x[6] = b.z, x[7] = b.w;
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) x[e] = p[e];
  }
}

// One thread's share of a work item: its code words and their blocks' scales, per row.
struct Nf4Slice {
  uint32_t codes[kNf4Rows][kNf4UnitsPerThread];
  float d[kNf4Rows][kNf4UnitsPerThread];
};

struct Nf4Item {
  int64_t group;  // row group: rows [group * kNf4Rows, ... + kNf4Rows)
  int64_t chunk;  // code words [chunk * kNf4ChunkUnits, ... + kNf4ChunkUnits) of each row
};

// Unit u of this thread in the item's chunk; units past the row end load nothing (codes 0 and
// d 0 contribute nothing).
__device__ __forceinline__ void load_slice(const hearth_tensor& w, const Nf4Item& it,
                                           int64_t n_units, bool w_aligned, Nf4Slice& s) {
  const int64_t n_rows = w.ne[1];
#pragma unroll
  for (int r = 0; r < kNf4Rows; ++r) {
    int64_t row = it.group * kNf4Rows + r;
    row = row < n_rows ? row : n_rows - 1;  // past the end: repeat the last row, not stored
    const uint8_t* base = static_cast<const uint8_t*>(w.data) + row * w.nb[1];
#pragma unroll
    for (int j = 0; j < kNf4UnitsPerThread; ++j) {
      const int64_t u = it.chunk * kNf4ChunkUnits + j * kNf4Threads + threadIdx.x;
      s.codes[r][j] = 0;
      s.d[r][j] = 0.0f;
      if (u < n_units) {
        const int64_t block_at = (u / kNf4UnitsPerBlock) * kNf4BlockBytes;
        s.codes[r][j] = nf4_load_word(base + block_at + 4 + (u % kNf4UnitsPerBlock) * 4, w_aligned);
        s.d[r][j] = __uint_as_float(nf4_load_word(base + block_at, w_aligned));
      }
    }
  }
}

// Resident blocks per SM the kernel is compiled for. One token fits 64 registers (4 blocks);
// two tokens spilled at 64 and ran 59 us instead of 43 us at 4096x14336 on an H200.
constexpr int nf4_blocks_per_sm(int nt) { return nt == 1 ? 4 : 2; }

// Tokens [(tile_begin + blockIdx.y) * NT, ... + NT); row groups blockIdx.x, blockIdx.x + gridDim.x,
// ...
template <int NT>
__global__ void __launch_bounds__(kNf4Threads, nf4_blocks_per_sm(NT))
    nf4_matmul_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int64_t n_tok,
                      int64_t tile_begin, bool w_aligned, bool x_vec) {
  wait_for_prior_kernels();
  __shared__ float table[16];
  __shared__ float partial[2][kNf4Warps][kNf4Rows][NT];
  nf4_fill_table(table);

  const int64_t t0 = (tile_begin + static_cast<int64_t>(blockIdx.y)) * NT;
  const int nt = static_cast<int>(n_tok - t0 < NT ? n_tok - t0 : NT);
  // Tokens past the end repeat a valid one, so loads stay in bounds; they are not stored.
  const float* xr[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xr[t] = at_offset<const float>(x, flat_row_offset(x, t0 + (t < nt ? t : 0)));

  const int64_t n_rows = w.ne[1];
  const int64_t n_groups = (n_rows + kNf4Rows - 1) / kNf4Rows;
  const int64_t n_units = w.ne[0] / kNf4UnitElems;
  const int64_t n_chunks = (n_units + kNf4ChunkUnits - 1) / kNf4ChunkUnits;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  // Thread k < kNf4Rows * NT stores row k / NT of token k % NT; its output row's address is
  // computed once (flat_row_offset divides 64-bit numbers), not once per row group.
  const int k_out = static_cast<int>(threadIdx.x);
  const int t_out = k_out % NT;
  float* y_out = at_offset<float>(dst, flat_row_offset(dst, t0 + (t_out < nt ? t_out : 0)));

  Nf4Item it{static_cast<int64_t>(blockIdx.x), 0};
  if (it.group >= n_groups) return;  // uniform over the block
  Nf4Slice cur;
  load_slice(w, it, n_units, w_aligned, cur);

  float acc[kNf4Rows][NT];
#pragma unroll
  for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;

  int parity = 0;
  while (true) {
    Nf4Item next = it;
    if (++next.chunk == n_chunks) next.chunk = 0, next.group += gridDim.x;
    const bool has_next = next.group < n_groups;
    Nf4Slice nxt;
    if (has_next) load_slice(w, next, n_units, w_aligned, nxt);

#pragma unroll
    for (int j = 0; j < kNf4UnitsPerThread; ++j) {
      const int64_t u = it.chunk * kNf4ChunkUnits + j * kNf4Threads + threadIdx.x;
      if (u >= n_units) continue;
      float wv[kNf4Rows][8];
#pragma unroll
      for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
        for (int e = 0; e < 8; ++e) wv[r][e] = table[nf4_code(cur.codes[r][j], e)];
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        if (t < nt) {
          float xv[8];
          load_x8(xr[t] + u * kNf4UnitElems, x_vec, xv);
#pragma unroll
          for (int r = 0; r < kNf4Rows; ++r) {
            float s = 0.0f;
#pragma unroll
            for (int e = 0; e < 8; ++e) s += wv[r][e] * xv[e];
            acc[r][t] += s * cur.d[r][j];
          }
        }
      }
    }

    if (it.chunk == n_chunks - 1) {  // the row group is complete: reduce and store it
#pragma unroll
      for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const float v = warp_sum(acc[r][t]);
          if (lane == 0) partial[parity][warp][r][t] = v;
          acc[r][t] = 0.0f;
        }
      // One barrier per group: the other buffer's readers (previous group) finished before
      // they reached this barrier, and this buffer is written again only after the next one.
      __syncthreads();
      const int64_t row0 = it.group * kNf4Rows;
      if (k_out < kNf4Rows * NT) {
        const int r = k_out / NT;
        if (row0 + r < n_rows && t_out < nt) {
          float sum = 0.0f;
#pragma unroll
          for (int i = 0; i < kNf4Warps; ++i) sum += partial[parity][i][r][t_out];
          y_out[row0 + r] = sum;
        }
      }
      parity ^= 1;
    }
    if (!has_next) break;
    it = next;
    cur = nxt;
  }
}

// ------------------------------------------------------------------ GEMV (1-4 tokens)
// Decode reads every weight byte once and multiplies it with one activation row (or a few),
// so the kernel is as fast as it keeps HBM busy and spends few instructions per weight. A block
// of kNf4GemvThreads owns R rows. Its threads walk the columns in chunks of V code words each
// (lane-consecutive words, so a warp's loads cover whole 32-byte sectors); per chunk a thread
// first issues all R * V code-word and scale loads and its V * 8 activations per token, then
// reuses the activations for the R rows. Each weight costs one shared-memory table lookup
// (the 16 codes sit in 16 banks: a warp never conflicts), one FMA, and a share of the byte
// extraction (one PRMT per weight after two masks per code word turn nibbles into byte offsets).
// What bounds it (Nsight Compute on an H200, 4096x14336): the L1/shared-memory data path, 82 %
// busy, carrying one table wavefront per 32 weights plus the 4-byte code-word and scale loads;
// DRAM is ~35 % busy. Per 1024 row-weights (session 10): 32 table wavefronts, ~16 for the
// activations (a lane's 32 bytes at a 32-byte stride: each 16-byte load spans 8 lines), ~12 for
// code words and scales, ~5 for the reduction shuffles. Warp shuffles as table lookups cost the
// same wavefronts (measured), so they cannot take lookups off this path. For one token R = 4, V = 2
// measured fastest of the eight (R, V) pairs tried: (2, 4), (2, 8), (4, 2), (4, 4), (8, 1), (8, 2),
// (8, 4), (16, 1).
constexpr int kNf4GemvThreads = 128;
constexpr int kNf4GemvWarps = kNf4GemvThreads / kWarp;

// The table entry whose byte offset (4 * code) is byte k of offsets.
__device__ __forceinline__ float nf4_table_at(const float* table, uint32_t offsets, int k) {
  const uint32_t off = __byte_perm(offsets, 0u, 0x4440u + static_cast<unsigned>(k));
  return *reinterpret_cast<const float*>(reinterpret_cast<const char*>(table) + off);
}

// Dot product of one code word (8 weights, unscaled) with 8 activations, in element order.
__device__ __forceinline__ float nf4_word_dot(const float* table, uint32_t word,
                                              const float (&x)[8]) {
  const uint32_t even = (word >> 2) & 0x3C3C3C3Cu;  // 4 * high nibbles: elements 0, 2, 4, 6
  const uint32_t odd = (word << 2) & 0x3C3C3C3Cu;   // 4 * low nibbles: elements 1, 3, 5, 7
  float s = nf4_table_at(table, even, 0) * x[0];
  s = fmaf(nf4_table_at(table, odd, 0), x[1], s);
#pragma unroll
  for (int k = 1; k < 4; ++k) {
    s = fmaf(nf4_table_at(table, even, k), x[2 * k], s);
    s = fmaf(nf4_table_at(table, odd, k), x[2 * k + 1], s);
  }
  return s;
}

// One chunk of V code words per row for each thread: all R * V words and scales are loaded
// before any is used. Pointers advance by whole chunks, so every load is a register plus an
// immediate offset. kTail: the row ends inside this chunk (words past it count as zero).
template <int R, int V, int NT, bool kTail>
__device__ __forceinline__ void nf4_gemv_chunk(const float* table,
                                               const uint8_t* const (&code_p)[R],
                                               const uint8_t* const (&scale_p)[R],
                                               const float* const (&xp)[NT], int64_t units_left,
                                               float (&acc)[R][NT]) {
  constexpr int kStepBytes = kNf4GemvThreads / kNf4UnitsPerBlock * kNf4BlockBytes;
  uint32_t codes[R][V];
  float d[R][V];
  float xv[NT][V][8];
  // Every load of the chunk is issued before any result is used: one memory round trip.
#pragma unroll
  for (int v = 0; v < V; ++v) {
    const bool in = !kTail || v * kNf4GemvThreads + static_cast<int64_t>(threadIdx.x) < units_left;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      codes[r][v] = in ? __ldg(reinterpret_cast<const uint32_t*>(code_p[r] + v * kStepBytes)) : 0u;
      d[r][v] = in ? __ldg(reinterpret_cast<const float*>(scale_p[r] + v * kStepBytes)) : 0.0f;
    }
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (in) {
        const float4* xq =
            reinterpret_cast<const float4*>(xp[t] + v * kNf4GemvThreads * kNf4UnitElems);
        const float4 a = xq[0];
        const float4 b = xq[1];
        xv[t][v][0] = a.x, xv[t][v][1] = a.y, xv[t][v][2] = a.z, xv[t][v][3] = a.w;
        xv[t][v][4] = b.x, xv[t][v][5] = b.y, xv[t][v][6] = b.z, xv[t][v][7] = b.w;
      } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) xv[t][v][e] = 0.0f;
      }
    }
  }
#pragma unroll
  for (int v = 0; v < V; ++v)
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int t = 0; t < NT; ++t)
        acc[r][t] = fmaf(nf4_word_dot(table, codes[r][v], xv[t][v]), d[r][v], acc[r][t]);
}

// Warp sums of N values (N a power of two, at most 32) in N - 1 + 5 - log2(N) shuffles instead
// of 5 N: each step sends the other half of the lanes the half of the values this lane will not
// keep. Afterwards lane l holds the sum of value l / (kWarp / N). Shuffles use the same L1
// data-path wavefronts as shared loads (Nsight Compute on an H200), so at 4096 columns and one
// token the 20 shuffles of four separate warp_sums were ~6 % of the kernel's L1 wavefronts.
template <int N>
__device__ __forceinline__ float warp_sums(float (&a)[N]) {
  static_assert(N > 0 && N <= kWarp && (N & (N - 1)) == 0, "N: a power of two up to 32");
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  int offset = kWarp / 2;
#pragma unroll
  for (int n = N; n > 1; n /= 2, offset /= 2) {
    const bool upper = (lane & offset) != 0;
#pragma unroll
    for (int i = 0; i < n / 2; ++i) {
      const float send = upper ? a[i] : a[i + n / 2];
      const float keep = upper ? a[i + n / 2] : a[i];
      a[i] = keep + HEARTH_SHFL_XOR(send, offset);
    }
  }
  float v = a[0];
#pragma unroll
  for (; offset > 0; offset /= 2) v += HEARTH_SHFL_XOR(v, offset);
  return v;
}

// Up to NT tokens (nt of them real; the others repeat token 0 and are not stored); rows 4-byte
// aligned (whole 36-byte blocks), activation rows 16-byte aligned.
template <int R, int V, int NT>
__global__ void __launch_bounds__(kNf4GemvThreads)
    nf4_gemv_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int nt) {
  wait_for_prior_kernels();
  __shared__ float table[16];
  __shared__ float partial[kNf4GemvWarps][R * NT];
  nf4_fill_table(table);

  constexpr int kChunkUnits = kNf4GemvThreads * V;
  constexpr int kChunkBytes = kChunkUnits / kNf4UnitsPerBlock * kNf4BlockBytes;
  const int tid = static_cast<int>(threadIdx.x);
  const int64_t n_rows = w.ne[1];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * R;
  const int64_t n_units = w.ne[0] / kNf4UnitElems;
  // This thread's first code word and its block's scale in each row. Rows past the end read the
  // last row (valid memory) and are not stored.
  const uint8_t* code_p[R];
  const uint8_t* scale_p[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const uint8_t* row =
        static_cast<const uint8_t*>(w.data) + (row0 + r < n_rows ? row0 + r : n_rows - 1) * w.nb[1];
    scale_p[r] = row + (tid / kNf4UnitsPerBlock) * kNf4BlockBytes;
    code_p[r] = scale_p[r] + 4 + (tid % kNf4UnitsPerBlock) * 4;
  }
  const float* xp[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xp[t] = at_offset<const float>(x, flat_row_offset(x, t < nt ? t : 0)) + tid * kNf4UnitElems;

  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;
  int64_t units_left = n_units;
#pragma unroll 1
  for (; units_left >= kChunkUnits; units_left -= kChunkUnits) {
    nf4_gemv_chunk<R, V, NT, false>(table, code_p, scale_p, xp, units_left, acc);
#pragma unroll
    for (int r = 0; r < R; ++r) code_p[r] += kChunkBytes, scale_p[r] += kChunkBytes;
#pragma unroll
    for (int t = 0; t < NT; ++t) xp[t] += kChunkUnits * kNf4UnitElems;
  }
  if (units_left > 0) nf4_gemv_chunk<R, V, NT, true>(table, code_p, scale_p, xp, units_left, acc);

  const int lane = tid % kWarp;
  const int warp = tid / kWarp;
  if constexpr (NT == 1) {
    // Lane l ends up with the warp's sum of row l / (kWarp / R).
    float rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = acc[r][0];
    const float v = warp_sums<R>(rows);
    if (lane % (kWarp / R) == 0) partial[warp][lane / (kWarp / R)] = v;
  } else {
    // warp_sums over R * NT values measured no better for 2 tokens (-2 % / +1 % on the two
    // large shapes) and 4 % slower for 4 (its 16 values went to local memory).
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const float v = warp_sum(acc[r][t]);
        if (lane == 0) partial[warp][r * NT + t] = v;
      }
  }
  __syncthreads();
  if (tid < R * NT) {
    const int r = tid / NT;
    const int t = tid % NT;
    if (row0 + r < n_rows && t < nt) {
      float sum = 0.0f;
#pragma unroll
      for (int k = 0; k < kNf4GemvWarps; ++k) sum += partial[k][tid];
      at_offset<float>(dst, flat_row_offset(dst, t))[row0 + r] = sum;
    }
  }
}

// Streaming multiprocessors of the current device (a fallback of 128 if the query fails, which
// only sizes the grid).
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

template <int R, int V, int NT>
cudaError_t launch_gemv(const hearth_op& op, int64_t n_tok, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((op.src[0].ne[1] + R - 1) / R));
  launch_after_prior(nf4_gemv_kernel<R, V, NT>, grid, kNf4GemvThreads, 0, stream, op.src[0],
                     op.src[1], op.dst, static_cast<int>(n_tok));
  return cudaGetLastError();
}

template <int NT>
cudaError_t launch_tiles(const hearth_op& op, int64_t n_tok, bool w_aligned, bool x_vec,
                         cudaStream_t stream) {
  const int64_t groups = (op.src[0].ne[1] + kNf4Rows - 1) / kNf4Rows;
  const int64_t tiles = (n_tok + NT - 1) / NT;
  // About one wave of resident blocks over all token tiles (tiles of the same rows run
  // together, so all but the first mostly find those rows in L2).
  constexpr int64_t kBlocksPerSm = nf4_blocks_per_sm(NT);
  const int64_t wave = sm_count() * kBlocksPerSm;
  int64_t blocks_x = (wave + tiles - 1) / tiles;
  blocks_x = blocks_x < groups ? blocks_x : groups;
  for (int64_t first = 0; first < tiles; first += kMaxGridY) {
    const int64_t count = tiles - first < kMaxGridY ? tiles - first : kMaxGridY;
    const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(count));
    launch_after_prior(nf4_matmul_kernel<NT>, grid, kNf4Threads, 0, stream, op.src[0], op.src[1],
                       op.dst, n_tok, first, w_aligned, x_vec);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

bool aligned_rows(const hearth_tensor& t, uintptr_t alignment) {
  return reinterpret_cast<uintptr_t>(t.data) % alignment == 0 &&
         static_cast<uintptr_t>(t.nb[1]) % alignment == 0 &&
         static_cast<uintptr_t>(t.nb[2]) % alignment == 0 &&
         static_cast<uintptr_t>(t.nb[3]) % alignment == 0;
}

}  // namespace

cudaError_t launch_nf4_matmul(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_tok = x.ne[1] * x.ne[2] * x.ne[3];
  if (w.ne[1] == 0 || n_tok == 0) return cudaSuccess;
#if !defined(HEARTH_GPU_HIP)
  // 1-8 tokens on sm_90: the TMA + tensor-core GEMV (nf4_gemv_tma.cu), faster than this file's.
  if (const auto launched = try_launch_nf4_gemv_tma(op, stream)) return *launched;
#endif
  const bool w_aligned = reinterpret_cast<uintptr_t>(w.data) % 4 == 0 && w.nb[1] % 4 == 0;
  // Units start every 32 bytes of a row, so a 16-byte aligned row base keeps float4 loads legal.
  const bool x_vec = aligned_rows(x, 16);
  if (w_aligned && x_vec) {
    if (n_tok == 1) return launch_gemv<4, 2, 1>(op, n_tok, stream);
    if (n_tok == 2) return launch_gemv<4, 2, 2>(op, n_tok, stream);
    if (n_tok <= 4) return launch_gemv<4, 1, 4>(op, n_tok, stream);
    // From 5 tokens the tiled kernel is faster (H200: 8 tokens at 4096x14336 84 us vs 132 us
    // for this kernel with R = 2, V = 1, NT = 8).
  }
  if (n_tok == 1) return launch_tiles<1>(op, n_tok, w_aligned, x_vec, stream);
  if (n_tok == 2) return launch_tiles<2>(op, n_tok, w_aligned, x_vec, stream);
  if (n_tok <= 4) return launch_tiles<4>(op, n_tok, w_aligned, x_vec, stream);
  return launch_tiles<8>(op, n_tok, w_aligned, x_vec, stream);
}

}  // namespace hearth::backend_gpu

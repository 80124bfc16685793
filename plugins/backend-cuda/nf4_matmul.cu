// MATMUL with NF4 weights, dequantization fused into the dot products: the weight is read once
// per tile of up to 8 tokens (from HBM for the first tile, mostly from L2 for the others),
// straight from its 36-byte blocks, and never written back.
// A thread block owns kNf4Rows weight rows; its 256 threads split each row's code words (a word =
// 8 weights), so every activation load serves kNf4Rows rows and short-output matrices
// (down_proj: 4096 rows) still give every SM several blocks. A thread sums
// sum(NF4[code] * x) over its 8 weights and scales by the block's d once; warp shuffles and
// shared memory finish the dot products. Accumulation is fp32.
#include "nf4_decode.cuh"
#include "nf4_kernels.hpp"

namespace hearth::backend_gpu {
namespace {

constexpr int kNf4Threads = 256;
constexpr int kNf4Warps = kNf4Threads / kWarp;
constexpr int kNf4Rows = 4;
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

// Tokens [blockIdx.x * NT, ... + NT) of rows [row_begin + blockIdx.y * kNf4Rows, ... + kNf4Rows).
// Token tiles run along x, which the scheduler walks first, so the tiles that read the same rows
// run together and all but the first find those rows in L2.
template <int NT>
__global__ void __launch_bounds__(kNf4Threads, NT == 1 ? 4 : 2)
    nf4_matmul_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int64_t row_begin,
                      int64_t n_tok, bool w_aligned, bool x_vec) {
  __shared__ float table[16];
  __shared__ float partial[kNf4Warps][kNf4Rows][NT];
  nf4_fill_table(table);

  const int64_t row0 = row_begin + static_cast<int64_t>(blockIdx.y) * kNf4Rows;
  const int nr = static_cast<int>(w.ne[1] - row0 < kNf4Rows ? w.ne[1] - row0 : kNf4Rows);
  const int64_t t0 = static_cast<int64_t>(blockIdx.x) * NT;
  const int nt = static_cast<int>(n_tok - t0 < NT ? n_tok - t0 : NT);

  // Rows and tokens past the end repeat a valid one, so loads stay in bounds; they are not stored.
  const uint8_t* rows[kNf4Rows];
#pragma unroll
  for (int r = 0; r < kNf4Rows; ++r)
    rows[r] = static_cast<const uint8_t*>(w.data) + (row0 + (r < nr ? r : 0)) * w.nb[1];
  const float* xr[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xr[t] = at_offset<const float>(x, flat_row_offset(x, t0 + (t < nt ? t : 0)));

  float acc[kNf4Rows][NT];
#pragma unroll
  for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;

  const int64_t n_units = w.ne[0] / kNf4UnitElems;
#pragma unroll 2
  for (int64_t u = threadIdx.x; u < n_units; u += kNf4Threads) {
    const int64_t block_at = (u / kNf4UnitsPerBlock) * kNf4BlockBytes;
    const int64_t codes_at = block_at + 4 + (u % kNf4UnitsPerBlock) * 4;
    uint32_t codes[kNf4Rows];
    float d[kNf4Rows];
#pragma unroll
    for (int r = 0; r < kNf4Rows; ++r) {
      codes[r] = nf4_load_word(rows[r] + codes_at, w_aligned);
      d[r] = __uint_as_float(nf4_load_word(rows[r] + block_at, w_aligned));
    }
    float wv[kNf4Rows][8];
#pragma unroll
    for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
      for (int e = 0; e < 8; ++e) wv[r][e] = table[nf4_code(codes[r], e)];
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
          acc[r][t] += s * d[r];
        }
      }
    }
  }

  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
#pragma unroll
  for (int r = 0; r < kNf4Rows; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = warp_sum(acc[r][t]);
      if (lane == 0) partial[warp][r][t] = v;
    }
  __syncthreads();
  const int k = static_cast<int>(threadIdx.x);
  if (k < kNf4Rows * NT) {
    const int r = k / NT;
    const int t = k % NT;
    if (r < nr && t < nt) {
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < kNf4Warps; ++i) sum += partial[i][r][t];
      at_offset<float>(dst, flat_row_offset(dst, t0 + t))[row0 + r] = sum;
    }
  }
}

template <int NT>
cudaError_t launch_tiles(const hearth_op& op, int64_t n_tok, bool w_aligned, bool x_vec,
                         cudaStream_t stream) {
  const int64_t row_blocks = (op.src[0].ne[1] + kNf4Rows - 1) / kNf4Rows;
  const auto tiles = static_cast<unsigned>((n_tok + NT - 1) / NT);
  // gridDim.y is limited to 65535: more than 262140 output rows go in several launches.
  for (int64_t first = 0; first < row_blocks; first += kMaxGridY) {
    const int64_t count = row_blocks - first < kMaxGridY ? row_blocks - first : kMaxGridY;
    const dim3 grid(tiles, static_cast<unsigned>(count));
    nf4_matmul_kernel<NT><<<grid, kNf4Threads, 0, stream>>>(
        op.src[0], op.src[1], op.dst, first * kNf4Rows, n_tok, w_aligned, x_vec);
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
  const bool w_aligned = reinterpret_cast<uintptr_t>(w.data) % 4 == 0 && w.nb[1] % 4 == 0;
  // Units start every 32 bytes of a row, so a 16-byte aligned row base keeps float4 loads legal.
  const bool x_vec = aligned_rows(x, 16);
  if (n_tok == 1) return launch_tiles<1>(op, n_tok, w_aligned, x_vec, stream);
  if (n_tok == 2) return launch_tiles<2>(op, n_tok, w_aligned, x_vec, stream);
  if (n_tok <= 4) return launch_tiles<4>(op, n_tok, w_aligned, x_vec, stream);
  return launch_tiles<8>(op, n_tok, w_aligned, x_vec, stream);
}

}  // namespace hearth::backend_gpu

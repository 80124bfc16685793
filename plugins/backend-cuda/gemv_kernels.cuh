// Decode GEMV (MATMUL with 1..8 tokens): bound by streaming the weight once, so the kernel keeps
// many weight bytes in flight and touches little else. A thread block of kGemvThreads owns R
// rows; its threads stride over the row's 8-element groups (gemv_decode.cuh) so each warp reads a
// contiguous stretch of weight bytes, load the group's activations once as two float4 per token
// and reuse them for all R rows (activation traffic from L1 is what bound the one-row-per-warp
// kernel). Partial sums meet in a warp shuffle and then in shared memory.
// Included by kernels_matmul.cu (one translation unit, so the HIP build needs no new source).
#pragma once

#include "gemv_decode.cuh"

namespace hearth::backend_gpu {

inline constexpr int kGemvThreads = 128;
inline constexpr int kGemvWarps = kGemvThreads / kWarp;
inline constexpr int64_t kGemvMaxTokens = 8;

template <uint32_t DT, int NT, int R>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int nt) {
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * R;
  const int64_t n_groups = w.ne[0] / 8;
  // Rows past the end read the last row (valid memory) and are not written.
  const uint8_t* rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r < w.ne[1] ? row0 + r : w.ne[1] - 1;
    rows[r] = static_cast<const uint8_t*>(w.data) + row * w.nb[1];
  }
  const float* xr[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t)
    xr[t] = at_offset<const float>(x, flat_row_offset(x, t < nt ? t : 0));

  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;

#pragma unroll 2
  for (int64_t g = threadIdx.x; g < n_groups; g += kGemvThreads) {
    int64_t c0, c1;
    gemv_group_columns<DT>(g, c0, c1);
    float4 xa[NT], xb[NT];
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      xa[t] = *reinterpret_cast<const float4*>(xr[t] + c0);
      xb[t] = *reinterpret_cast<const float4*>(xr[t] + c1);
    }
    if constexpr (kGemvFactored<DT>) {
      float sum0[NT], sum1[NT];  // the runs' activation sums, shared by the R rows
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        sum0[t] = (xa[t].x + xa[t].y) + (xa[t].z + xa[t].w);
        sum1[t] = (xb[t].x + xb[t].y) + (xb[t].z + xb[t].w);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        GemvGroup q;
        gemv_group_factored<DT>(rows[r], g, q);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const float d0 =
              fmaf(q.q[3], xa[t].w, fmaf(q.q[2], xa[t].z, fmaf(q.q[1], xa[t].y, q.q[0] * xa[t].x)));
          const float d1 =
              fmaf(q.q[7], xb[t].w, fmaf(q.q[6], xb[t].z, fmaf(q.q[5], xb[t].y, q.q[4] * xb[t].x)));
          float s = acc[r][t];
          s = fmaf(q.s0, d0, s);
          s = fmaf(q.m0, sum0[t], s);
          s = fmaf(q.s1, d1, s);
          s = fmaf(q.m1, sum1[t], s);
          acc[r][t] = s;
        }
      }
    } else {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float wv[8];
        gemv_group<DT>(rows[r], g, wv);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          float s = acc[r][t];
          s = fmaf(wv[0], xa[t].x, s);
          s = fmaf(wv[1], xa[t].y, s);
          s = fmaf(wv[2], xa[t].z, s);
          s = fmaf(wv[3], xa[t].w, s);
          s = fmaf(wv[4], xb[t].x, s);
          s = fmaf(wv[5], xb[t].y, s);
          s = fmaf(wv[6], xb[t].z, s);
          s = fmaf(wv[7], xb[t].w, s);
          acc[r][t] = s;
        }
      }
    }
  }

  __shared__ float partial[kGemvWarps][R * NT];
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float s = warp_sum(acc[r][t]);
      if (lane == 0) partial[warp][r * NT + t] = s;
    }
  __syncthreads();
  const int i = static_cast<int>(threadIdx.x);
  if (i < R * NT) {
    const int r = i / NT;
    const int t = i % NT;
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kGemvWarps; ++k) sum += partial[k][i];
    if (t < nt && row0 + r < w.ne[1])
      at_offset<float>(dst, flat_row_offset(dst, t))[row0 + r] = sum;
  }
}

// Whether gemv_kernel handles op: 1..8 tokens of a type it decodes, weight rows aligned as
// gemv_group needs them and every activation row 16-byte aligned (float4 loads).
template <uint32_t DT>
bool gemv_accepts(const hearth_op& op, int64_t n_tok) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  if (n_tok < 1 || n_tok > kGemvMaxTokens || w.ne[0] % 8 != 0) return false;
  constexpr bool kPlain =
      DT == HEARTH_DTYPE_F32 || DT == HEARTH_DTYPE_F16 || DT == HEARTH_DTYPE_BF16;
  constexpr int64_t kRowAlign = kPlain                                                 ? 16
                                : (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) ? 4
                                                                                       : 2;
  const auto aligned = [](const void* p, int64_t a) {
    return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(a) == 0;
  };
  if (!aligned(w.data, 16) || (w.ne[1] > 1 && w.nb[1] % kRowAlign != 0)) return false;
  if (!aligned(x.data, 16)) return false;
  for (int d = 1; d < 4; ++d)
    if (x.ne[d] > 1 && x.nb[d] % 16 != 0) return false;
  return true;
}

template <uint32_t DT, int NT, int R>
void launch_gemv_rows(const hearth_op& op, int64_t n_tok, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((op.src[0].ne[1] + R - 1) / R));
  gemv_kernel<DT, NT, R>
      <<<grid, kGemvThreads, 0, stream>>>(op.src[0], op.src[1], op.dst, static_cast<int>(n_tok));
}

// Rows per block: enough that each activation load serves several rows, few enough that small
// outputs still spread over every SM and the accumulators stay in registers.
template <uint32_t DT>
void launch_gemv(const hearth_op& op, int64_t n_tok, cudaStream_t stream) {
  constexpr bool kPlain =
      DT == HEARTH_DTYPE_F32 || DT == HEARTH_DTYPE_F16 || DT == HEARTH_DTYPE_BF16;
  if (n_tok == 1)
    launch_gemv_rows<DT, 1, kPlain ? 2 : 4>(op, n_tok, stream);
  else if (n_tok == 2)
    launch_gemv_rows<DT, 2, kPlain ? 2 : 4>(op, n_tok, stream);
  else if (n_tok <= 4)
    launch_gemv_rows<DT, 4, 2>(op, n_tok, stream);
  else
    launch_gemv_rows<DT, 8, 2>(op, n_tok, stream);
}

}  // namespace hearth::backend_gpu

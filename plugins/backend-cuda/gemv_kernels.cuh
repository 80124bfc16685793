// Decode GEMV (MATMUL with 1..8 tokens): bound by streaming the weight once, so the kernel keeps
// many weight bytes in flight and touches little else. A thread block of kGemvThreads owns R
// rows; its threads stride over the row's 8-element groups (gemv_decode.cuh) so each warp reads a
// contiguous stretch of weight bytes, load the group's activations once as two float4 per token
// and reuse them for all R rows (activation traffic from L1 is what bound the one-row-per-warp
// kernel). Partial sums meet in a warp shuffle and then in shared memory.
// Included by kernels_matmul.cu (one translation unit, so the HIP build needs no new source).
#pragma once

#include "gemv_decode.cuh"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {

inline constexpr int kGemvThreads = 128;
inline constexpr int kGemvWarps = kGemvThreads / kWarp;
inline constexpr int64_t kGemvMaxTokens = 8;

template <uint32_t DT, int NT, int R>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_kernel(hearth_tensor w, hearth_tensor x, hearth_tensor dst, int nt) {
  wait_for_prior_kernels();
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
  launch_after_prior(gemv_kernel<DT, NT, R>, grid, kGemvThreads, 0, stream, op.src[0], op.src[1],
                     op.dst, static_cast<int>(n_tok));
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

// ------------------------------------------------------------------ q8 route
// The quantized types (kQ8Route) follow llama.cpp's mmvq recipe instead: the activations are
// rounded once per op to q8 blocks of 32 (int8 values, a scale d and, per half of 16, d times the
// half's sum of values) in a device scratch, the way llama.cpp's CPU path rounds them for the
// same weight type (Q8_0 blocks, or Q8_K super-blocks of 256 whose scale all 8 blocks repeat); each
// lane then loads 16 bytes of quants per step and multiplies them with __dp4a (four int8 products
// per instruction) against the q8 activations, applying the weight's scale and offset once per 16
// weights. The float decode above spent more ALU per weight byte than the memory system allows at
// full bandwidth. Scratch layout for T tokens of n inputs: T * n int8 values, then T * n / 32
// float4 blocks {d, d * sum(values 0..15), d * sum(values 16..31), 0}.

inline constexpr int kQuantizeThreads = 256;

inline uint64_t q8_activation_bytes(int64_t n_in, int64_t n_tok) {
  return static_cast<uint64_t>(n_tok * n_in) + static_cast<uint64_t>(n_tok * (n_in / 32)) * 16;
}

// One lane per activation, one warp per q8 block: the rounding is ggml's quantize_row_q8_0_ref
// (q = roundf(x * (1 / d))), and the scale the products use is d rounded to f16 as block_q8_0
// stores it, so these activations are the ones llama.cpp's CPU path multiplies (its logits are
// the reference); a float d gave near-tied logits of the synthetic models a different argmax.
__global__ void __launch_bounds__(kQuantizeThreads)
    quantize_q8_kernel(hearth_tensor x, int8_t* qs, float4* meta) {
  wait_for_prior_kernels();
  const int64_t n_in = x.ne[0];
  const int64_t t = blockIdx.y;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kQuantizeThreads + threadIdx.x;
  if (i >= n_in) return;  // n_in is a multiple of 32: whole warps leave together
  const float v = at_offset<const float>(x, flat_row_offset(x, t))[i];
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const float q = roundf(v * id);
  qs[t * n_in + i] = static_cast<int8_t>(q);
  float half_sum = q;  // over the lane's 16-lane half of the block
#pragma unroll
  for (int mask = 8; mask > 0; mask >>= 1) half_sum += HEARTH_SHFL_XOR(half_sum, mask);
  const float high_sum = HEARTH_SHFL_XOR(half_sum, 16);
  const float d16 = __half2float(__float2half_rn(d));
  if (threadIdx.x % kWarp == 0)
    meta[t * (n_in / 32) + i / 32] = make_float4(d16, d16 * half_sum, d16 * high_sum, 0.0f);
}

// llama.cpp's quantize_row_q8_K_ref for the K-quants, one thread block per super-block of 256:
// max is the signed value of largest magnitude (the first one on ties), iscale = -127 / max,
// q = min(127, round-half-even(iscale * x)), d = 1 / iscale kept as a float. Every 32-block of
// the super-block carries the same d in the scratch layout above.
__global__ void __launch_bounds__(kQuantizeThreads)
    quantize_q8k_kernel(hearth_tensor x, int8_t* qs, float4* meta) {
  wait_for_prior_kernels();
  static_assert(kQuantizeThreads == 256, "one thread per element of a Q8_K super-block");
  const int64_t n_in = x.ne[0];
  const int64_t t = blockIdx.y;
  const int j = static_cast<int>(threadIdx.x);
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kQuantizeThreads + j;
  const float v = at_offset<const float>(x, flat_row_offset(x, t))[i];
  __shared__ float warp_amax[kQuantizeThreads / kWarp];
  __shared__ int warp_first[kQuantizeThreads / kWarp];
  __shared__ float extreme;
  const int lane = j % kWarp, warp = j / kWarp;
  const float amax_w = warp_max(fabsf(v));
  if (lane == 0) warp_amax[warp] = amax_w;
  __syncthreads();
  float amax = warp_amax[0];
#pragma unroll
  for (int k = 1; k < kQuantizeThreads / kWarp; ++k) amax = fmaxf(amax, warp_amax[k]);
  // The first element whose magnitude is amax gives the sign, as the reference's strict '>'.
  int first = fabsf(v) == amax ? j : kQuantizeThreads;
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) first = min(first, HEARTH_SHFL_XOR(first, mask));
  if (lane == 0) warp_first[warp] = first;
  __syncthreads();
#pragma unroll
  for (int k = 0; k < kQuantizeThreads / kWarp; ++k) first = min(first, warp_first[k]);
  if (j == first) extreme = v;
  __syncthreads();
  const float max = extreme;
  float q = 0.0f, d = 0.0f;
  if (amax != 0.0f) {
    const float iscale = -127.0f / max;
    q = static_cast<float>(min(127, __float2int_rn(iscale * v)));
    d = 1.0f / iscale;
  }
  qs[t * n_in + i] = static_cast<int8_t>(q);
  float half_sum = q;
#pragma unroll
  for (int mask = 8; mask > 0; mask >>= 1) half_sum += HEARTH_SHFL_XOR(half_sum, mask);
  const float high_sum = HEARTH_SHFL_XOR(half_sum, 16);
  if (lane == 0) meta[t * (n_in / 32) + i / 32] = make_float4(d, d * half_sum, d * high_sum, 0.0f);
}

template <uint32_t DT, int NT, int R>
__global__ void __launch_bounds__(kGemvThreads)
    gemv_q8_kernel(hearth_tensor w, const int8_t* xq, const float4* xm, hearth_tensor dst, int nt) {
  wait_for_prior_kernels();
  constexpr int H = kQ8Halves<DT>;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * R;
  const int64_t n_in = w.ne[0];
  const int64_t n_blocks = n_in / 32;
  const int64_t n_chunks = n_in / kQ8ChunkWeights<DT>;
  // Rows past the end read the last row (valid memory) and are not written.
  const uint8_t* rows[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = row0 + r < w.ne[1] ? row0 + r : w.ne[1] - 1;
    rows[r] = static_cast<const uint8_t*>(w.data) + row * w.nb[1];
  }
  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;

#pragma unroll 1
  for (int64_t c = threadIdx.x; c < n_chunks; c += kGemvThreads) {
    int64_t blk[2];
    int half[2];
    q8_chunk_activations<DT>(c, blk, half);
    // The chunk's activations, loaded once and shared by the R rows (tokens past nt repeat
    // token 0: valid memory, never written).
    int4 a[NT][H];
    float d8[NT][H], s8[NT][H];
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const int64_t tt = t < nt ? t : 0;
#pragma unroll
      for (int h = 0; h < H; ++h) {
        a[t][h] = *reinterpret_cast<const int4*>(xq + tt * n_in + blk[h] * 32 + half[h] * 16);
        const float4 m = xm[tt * n_blocks + blk[h]];
        d8[t][h] = m.x;
        s8[t][h] = half[h] ? m.z : m.y;
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      Q8Chunk q;
      q8_chunk<DT>(rows[r], c, q);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        float s = acc[r][t];
#pragma unroll
        for (int h = 0; h < H; ++h) {
          const int dot =
              dot4_i8(q.v[h][3], a[t][h].w,
                      dot4_i8(q.v[h][2], a[t][h].z,
                              dot4_i8(q.v[h][1], a[t][h].y, dot4_i8(q.v[h][0], a[t][h].x, 0))));
          s = fmaf(q.sw[h] * d8[t][h], static_cast<float>(dot), s);
          if constexpr (kQ8HasOffset<DT>) s = fmaf(q.mw[h], s8[t][h], s);
        }
        acc[r][t] = s;
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

// Whether the q8 route handles op: a kQ8Route type, 1..8 tokens, rows aligned for q8_chunk.
template <uint32_t DT>
bool gemv_q8_accepts(const hearth_op& op, int64_t n_tok) {
  if constexpr (!kQ8Route<DT>) {
    return false;
  } else {
    const hearth_tensor& w = op.src[0];
    if (n_tok < 1 || n_tok > kGemvMaxTokens || w.ne[0] % 32 != 0) return false;
    constexpr int64_t kRowAlign = DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K ? 16 : 2;
    if (reinterpret_cast<uintptr_t>(w.data) % 16 != 0) return false;
    return w.ne[1] == 1 || w.nb[1] % kRowAlign == 0;
  }
}

template <uint32_t DT, int NT, int R>
void launch_gemv_q8_rows(const hearth_op& op, int64_t n_tok, const int8_t* xq, const float4* xm,
                         cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((op.src[0].ne[1] + R - 1) / R));
  launch_after_prior(gemv_q8_kernel<DT, NT, R>, grid, kGemvThreads, 0, stream, op.src[0], xq, xm,
                     op.dst, static_cast<int>(n_tok));
}

// scratch holds q8_activation_bytes(n_in, n_tok) bytes, 16-byte aligned; ready: it already
// holds these activations, quantized.
template <uint32_t DT>
void launch_gemv_q8(const hearth_op& op, int64_t n_tok, void* scratch, bool ready,
                    cudaStream_t stream) {
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = x.ne[0];
  auto* xq = static_cast<int8_t*>(scratch);
  auto* xm = reinterpret_cast<float4*>(xq + n_tok * n_in);
  const dim3 qgrid(static_cast<unsigned>((n_in + kQuantizeThreads - 1) / kQuantizeThreads),
                   static_cast<unsigned>(n_tok));
  if (!ready) {
    if constexpr (kQ8SuperBlocks<DT>)  // n_in is a multiple of 256 for these types
      launch_after_prior(quantize_q8k_kernel, qgrid, kQuantizeThreads, 0, stream, x, xq, xm);
    else
      launch_after_prior(quantize_q8_kernel, qgrid, kQuantizeThreads, 0, stream, x, xq, xm);
  }
  // Rows per block as launch_gemv: activations reused by several rows, few enough rows that the
  // accumulators and the NT tokens' activations stay in registers.
  if (n_tok == 1)
    launch_gemv_q8_rows<DT, 1, 2>(op, n_tok, xq, xm, stream);
  else if (n_tok == 2)
    launch_gemv_q8_rows<DT, 2, 2>(op, n_tok, xq, xm, stream);
  else if (n_tok <= 4)
    launch_gemv_q8_rows<DT, 4, 2>(op, n_tok, xq, xm, stream);
  else
    launch_gemv_q8_rows<DT, 8, 1>(op, n_tok, xq, xm, stream);
}

}  // namespace hearth::backend_gpu

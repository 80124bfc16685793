// ATTENTION, flash-attention style: one block per (query head, query). Each of its warps streams a
// strided share of the keys once, keeping a running max, a running sum and the weighted value
// sum (online softmax) in registers; the block then merges its warps' partial results. The score
// matrix never exists in memory, so any cache length fits.
#include "gpu_device_code.cuh"
#include "kernels.hpp"

namespace hearth::backend_gpu {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kValuesPerLane = static_cast<int>(kMaxAttentionHeadDim / kWarp);

__global__ void __launch_bounds__(kWarpsPerBlock* kWarp)
    attention_kernel(hearth_tensor q, hearth_tensor k, hearth_tensor v, const int32_t* pos_q,
                     const int32_t* pos_k, hearth_tensor dst, float scale) {
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t h = blockIdx.x;
  const int64_t i = blockIdx.y;
  const int64_t head_dim = q.ne[0];
  const int64_t n_kv = k.ne[2];
  const int64_t kv_head = h / (q.ne[1] / k.ne[1]);
  const int32_t query_pos = pos_q[i];

  const float* qr = at_offset<const float>(q, h * q.nb[1] + i * q.nb[2]);
  float qv[kValuesPerLane];
  float acc[kValuesPerLane];
#pragma unroll
  for (int c = 0; c < kValuesPerLane; ++c) {
    const int64_t d = lane + c * kWarp;
    qv[c] = d < head_dim ? qr[d] : 0.0f;
    acc[c] = 0.0f;
  }
  float running_max = -INFINITY;
  float running_sum = 0.0f;
  for (int64_t j = warp; j < n_kv; j += kWarpsPerBlock) {
    if (pos_k[j] > query_pos) continue;  // the same for every lane of the warp
    const float* kr = at_offset<const float>(k, kv_head * k.nb[1] + j * k.nb[2]);
    float dot = 0.0f;
#pragma unroll
    for (int c = 0; c < kValuesPerLane; ++c) {
      const int64_t d = lane + c * kWarp;
      if (d < head_dim) dot += qv[c] * kr[d];
    }
    const float score = warp_sum(dot) * scale;
    const float new_max = fmaxf(running_max, score);
    const float correction = expf(running_max - new_max);
    const float p = expf(score - new_max);
    running_sum = running_sum * correction + p;
    const float* vr = at_offset<const float>(v, kv_head * v.nb[1] + j * v.nb[2]);
#pragma unroll
    for (int c = 0; c < kValuesPerLane; ++c) {
      const int64_t d = lane + c * kWarp;
      acc[c] = acc[c] * correction + (d < head_dim ? p * vr[d] : 0.0f);
    }
    running_max = new_max;
  }

  __shared__ float warp_max_s[kWarpsPerBlock];
  __shared__ float warp_sum_s[kWarpsPerBlock];
  __shared__ float warp_acc_s[kWarpsPerBlock][kMaxAttentionHeadDim];
  if (lane == 0) {
    warp_max_s[warp] = running_max;
    warp_sum_s[warp] = running_sum;
  }
#pragma unroll
  for (int c = 0; c < kValuesPerLane; ++c) warp_acc_s[warp][lane + c * kWarp] = acc[c];
  __syncthreads();

  float block_max_v = -INFINITY;
  for (int w = 0; w < kWarpsPerBlock; ++w) block_max_v = fmaxf(block_max_v, warp_max_s[w]);
  float* out = at_offset<float>(dst, h * dst.nb[1] + i * dst.nb[2]);
  if (block_max_v == -INFINITY) {  // this query sees no key
    for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) out[d] = 0.0f;
    return;
  }
  float weight[kWarpsPerBlock];
  float total = 0.0f;
  for (int w = 0; w < kWarpsPerBlock; ++w) {
    weight[w] = warp_max_s[w] == -INFINITY ? 0.0f : expf(warp_max_s[w] - block_max_v);
    total += warp_sum_s[w] * weight[w];
  }
  const float inv = 1.0f / total;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_acc_s[w][d] * weight[w];
    out[d] = sum * inv;
  }
}

}  // namespace

cudaError_t launch_attention(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& q = op.src[0];
  if (q.ne[1] == 0 || q.ne[2] == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(q.ne[1]), static_cast<unsigned>(q.ne[2]));
  attention_kernel<<<grid, kWarpsPerBlock * kWarp, 0, stream>>>(
      op.src[0], op.src[1], op.src[2], static_cast<const int32_t*>(op.src[3].data),
      static_cast<const int32_t*>(op.src[4].data), op.dst, op.fparams[0]);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

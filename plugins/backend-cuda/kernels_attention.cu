// ATTENTION over an F32 cache, flash-attention style (an F16 cache: kernels_attention_f16.cu): a
// block per (query head, query, key range). Each of its warps streams a strided share of the
// range's keys once, keeping a running max, a running sum and the weighted value sum (online
// softmax) in registers; the block merges its warps' partial results. The score matrix never exists
// in memory, so any cache length fits.
//
// Decode has few (head, query) pairs, so one block each would leave most SMs idle while a few
// warps walk thousands of keys. There the keys are split into ranges (flash-decoding): every
// block writes its range's max, sum and unnormalised output to scratch, and a second kernel
// merges the ranges of each (head, query).
#include "gpu_device_code.cuh"
#include "kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kValuesPerLane = static_cast<int>(kMaxAttentionHeadDim / kWarp);
// Keys one block takes at least when the keys are split.
constexpr int64_t kMinKeysPerSplit = 128;

// A range's result before normalisation: out = acc / sum, each relative to exp(max).
struct Partial {
  float max;
  float sum;
};

__global__ void __launch_bounds__(kWarpsPerBlock* kWarp)
    attention_kernel(hearth_tensor q, hearth_tensor k, hearth_tensor v, const int32_t* pos_q,
                     const int32_t* pos_k, hearth_tensor dst, float scale, int64_t keys_per_split,
                     float* partials) {
  wait_for_prior_kernels();
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const int64_t h = blockIdx.x;
  const int64_t i = blockIdx.y;
  const int64_t split = blockIdx.z;
  const int64_t n_split = gridDim.z;
  const int64_t head_dim = q.ne[0];
  const int64_t n_kv = k.ne[2];
  const int64_t kv_head = h / (q.ne[1] / k.ne[1]);
  const int32_t query_pos = pos_q[i];
  const int64_t j_begin = split * keys_per_split;
  const int64_t j_end = j_begin + keys_per_split < n_kv ? j_begin + keys_per_split : n_kv;

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
  for (int64_t j = j_begin + warp; j < j_end; j += kWarpsPerBlock) {
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
  float weight[kWarpsPerBlock];
  float total = 0.0f;
  for (int w = 0; w < kWarpsPerBlock; ++w) {
    weight[w] = warp_max_s[w] == -INFINITY ? 0.0f : expf(warp_max_s[w] - block_max_v);
    total += warp_sum_s[w] * weight[w];
  }

  if (n_split > 1) {
    // [Partial, head_dim floats] per (query, head, split).
    float* part = partials + ((i * q.ne[1] + h) * n_split + split) * (head_dim + 2);
    if (threadIdx.x == 0) {
      part[0] = block_max_v;
      part[1] = total;
    }
    for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
      float sum = 0.0f;
      for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_acc_s[w][d] * weight[w];
      part[2 + d] = sum;
    }
    return;
  }

  float* out = at_offset<float>(dst, h * dst.nb[1] + i * dst.nb[2]);
  if (block_max_v == -INFINITY) {  // this query sees no key
    for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) out[d] = 0.0f;
    return;
  }
  const float inv = 1.0f / total;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float sum = 0.0f;
    for (int w = 0; w < kWarpsPerBlock; ++w) sum += warp_acc_s[w][d] * weight[w];
    out[d] = sum * inv;
  }
}

// Merges the key ranges of one (query head, query).
__global__ void __launch_bounds__(kWarp)
    attention_merge_kernel(hearth_tensor q, hearth_tensor dst, int64_t n_split,
                           const float* partials) {
  wait_for_prior_kernels();
  const int64_t h = blockIdx.x;
  const int64_t i = blockIdx.y;
  const int64_t head_dim = q.ne[0];
  const float* parts = partials + (i * q.ne[1] + h) * n_split * (head_dim + 2);
  float max = -INFINITY;
  for (int64_t s = 0; s < n_split; ++s) max = fmaxf(max, parts[s * (head_dim + 2)]);
  float* out = at_offset<float>(dst, h * dst.nb[1] + i * dst.nb[2]);
  if (max == -INFINITY) {
    for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) out[d] = 0.0f;
    return;
  }
  float total = 0.0f;
  for (int64_t s = 0; s < n_split; ++s) {
    const float m = parts[s * (head_dim + 2)];
    if (m != -INFINITY) total += parts[s * (head_dim + 2) + 1] * expf(m - max);
  }
  const float inv = 1.0f / total;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float sum = 0.0f;
    for (int64_t s = 0; s < n_split; ++s) {
      const float m = parts[s * (head_dim + 2)];
      if (m != -INFINITY) sum += parts[s * (head_dim + 2) + 2 + d] * expf(m - max);
    }
    out[d] = sum * inv;
  }
}

}  // namespace

int64_t attention_splits(const hearth_op& op, int sm_count) {
  if (op.src[1].dtype == HEARTH_DTYPE_F16) return attention_f16_splits(op, sm_count);
  const hearth_tensor& q = op.src[0];
  const int64_t n_kv = op.src[1].ne[2];
  const int64_t pairs = q.ne[1] * q.ne[2];
  // Enough blocks for two waves' worth of SMs, each with at least kMinKeysPerSplit keys.
  const int64_t wanted_blocks = 2 * static_cast<int64_t>(sm_count > 0 ? sm_count : 1);
  if (pairs <= 0 || pairs >= wanted_blocks) return 1;
  const int64_t by_blocks = (wanted_blocks + pairs - 1) / pairs;
  const int64_t by_keys = (n_kv + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
  return by_blocks < by_keys ? by_blocks : (by_keys > 0 ? by_keys : 1);
}

uint64_t attention_scratch_bytes(const hearth_op& op, int64_t n_splits) {
  if (op.src[1].dtype == HEARTH_DTYPE_F16) return attention_f16_scratch_bytes(op, n_splits);
  if (n_splits <= 1) return 0;
  const hearth_tensor& q = op.src[0];
  return static_cast<uint64_t>(q.ne[1] * q.ne[2] * n_splits * (q.ne[0] + 2)) * sizeof(float);
}

cudaError_t launch_attention(const hearth_op& op, int64_t n_splits, float* scratch,
                             cudaStream_t stream) {
  if (op.src[1].dtype == HEARTH_DTYPE_F16)
    return launch_attention_f16(op, n_splits, scratch, stream);
  const hearth_tensor& q = op.src[0];
  if (q.ne[1] == 0 || q.ne[2] == 0) return cudaSuccess;
  const int64_t n_kv = op.src[1].ne[2];
  const int64_t splits = n_splits > 1 && scratch ? n_splits : 1;
  const int64_t keys_per_split = splits > 1 ? (n_kv + splits - 1) / splits : (n_kv > 0 ? n_kv : 1);
  const dim3 grid(static_cast<unsigned>(q.ne[1]), static_cast<unsigned>(q.ne[2]),
                  static_cast<unsigned>(splits));
  launch_after_prior(attention_kernel, grid, kWarpsPerBlock * kWarp, 0, stream, op.src[0],
                     op.src[1], op.src[2], static_cast<const int32_t*>(op.src[3].data),
                     static_cast<const int32_t*>(op.src[4].data), op.dst, op.fparams[0],
                     keys_per_split, scratch);
  if (splits > 1)
    launch_after_prior(attention_merge_kernel,
                       dim3(static_cast<unsigned>(q.ne[1]), static_cast<unsigned>(q.ne[2])), kWarp,
                       0, stream, op.src[0], op.dst, splits, scratch);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

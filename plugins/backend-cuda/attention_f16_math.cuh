// The arithmetic of attention over F16 keys and values, shared by ATTENTION's F16 cache
// (kernels_attention_f16.cu) and ATTENTION_SLOTS' 16-bit records (kernels_attention_slots.cu):
// with every slot at 16 bits the two ops see the same numbers and must give the same bits (the
// `full` policy equals the plain cache), so both build every value the same way:
//  - score: the query rounded to F16, one fused multiply-add per channel in channel order, times
//    the scale (each key's score by one thread);
//  - softmax over all n keys of a query head: the float max, the sum of expf(score - max) in
//    double reduced by softmax_stats below (the same blocks of 256 threads in both ops), one
//    float 1/sum; a probability is expf(score - max) * (1/sum) rounded to F16 (llama.cpp's
//    non-flash path rounds it so before its F16 product with V);
//  - output channel: per chunk of kChunkKeys consecutive keys a float sum of probability times
//    value in key order, the chunks' sums then added in chunk order from 0.
// Products of two F16 values are exact in float, so only these orders decide the bits.
#pragma once

#include "gpu_device_code.cuh"

namespace hearth::backend_gpu {

inline constexpr int kF16AttentionThreads = 256;
inline constexpr int64_t kChunkKeys = 256;

__device__ __forceinline__ float round_to_f16(float x) { return __half2float(__float2half_rn(x)); }

struct SoftmaxStats {
  float max;  // -inf: no visible key
  float inv;  // 1 / sum of expf(score - max), 0 when no key is visible
};

// Block-wide (kF16AttentionThreads threads, all of them calling) statistics of scores[0, n);
// hidden keys hold -inf. reduce holds kWarp doubles.
__device__ __forceinline__ SoftmaxStats softmax_stats(const float* scores, int64_t n,
                                                      double* reduce) {
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += kF16AttentionThreads)
    local_max = fmaxf(local_max, scores[j]);
  const float max = block_max(local_max, reinterpret_cast<float*>(reduce));
  if (max == -INFINITY) return {max, 0.0f};
  double local_sum = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += kF16AttentionThreads)
    local_sum += static_cast<double>(expf(scores[j] - max));
  const double sum = block_sum(local_sum, reduce);
  return {max, static_cast<float>(1.0 / sum)};
}

__device__ __forceinline__ float f16_probability(float score, const SoftmaxStats& s) {
  return round_to_f16(expf(score - s.max) * s.inv);
}

}  // namespace hearth::backend_gpu

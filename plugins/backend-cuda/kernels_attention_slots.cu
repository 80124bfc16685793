// ATTENTION_SLOTS on the GPU: one block per (KV head, query). Its warps score every slot of the
// head for all the query heads of the group (each record is decoded once per group), the block
// normalises each query head's scores, sums them over the group into the attention mass, and
// finally each thread accumulates (query head, channel) outputs over the slots.
//
// Numerics follow the CPU kernel (plugins/backend-cpu/kernel_attention_slots.cpp): 16-bit slots
// are scored against the query rounded to F16 and weighted by the probability rounded to F16, as
// ATTENTION over an F16 cache, in that op's exact operation order (attention_f16_math.cuh: a
// thread per 16-bit slot's score, the double-sum softmax, chunk sums of the outputs), so that
// with every slot at 16 bits both ops give the same bits; quantized slots are decoded to F32
// (code * scale + min, rounded as sdk/kv_quant.hpp does) and scored against the F32 query.
#include "attention_f16_math.cuh"
#include "attention_slots_kernel.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kThreads = kF16AttentionThreads;  // softmax_stats' reduction shape
constexpr int kWarps = kThreads / kWarp;
constexpr int kValuesPerLane = 8;  // head_dim <= 256

// Channel d of a record at `bits`.
__device__ __forceinline__ float decode_channel(const uint8_t* record, uint32_t bits, uint32_t d,
                                                uint32_t head_dim, uint32_t group_size) {
  if (bits == 16) return half_bits_to_float(reinterpret_cast<const uint16_t*>(record)[d]);
  // Quantized records may start at any byte (5 bytes for 1-bit codes of 8 channels): read the
  // F16 scale and min a byte at a time.
  const uint32_t group = d / group_size;
  const uint8_t* meta = record + 4 * group;
  const float scale = half_bits_to_float(static_cast<uint16_t>(meta[0] | (meta[1] << 8)));
  const float min = half_bits_to_float(static_cast<uint16_t>(meta[2] | (meta[3] << 8)));
  const uint8_t* codes = record + 4 * (head_dim / group_size);
  const uint32_t bit = d * bits;
  const uint32_t code = (codes[bit / 8] >> (bit % 8)) & ((1u << bits) - 1u);
  return __fadd_rn(__fmul_rn(static_cast<float>(code), scale), min);
}

__global__ void __launch_bounds__(kThreads)
    attention_slots_kernel(const uint8_t* staging, hearth_tensor q, hearth_tensor dst,
                           const int32_t* pos_q, float* mass, int64_t mass_stride, float* scores,
                           int64_t max_slots, uint32_t group_size, float scale, int64_t q_begin) {
  wait_for_prior_kernels();
  extern __shared__ float shared[];
  const int64_t g = blockIdx.x;
  const int64_t i_local = blockIdx.y;
  const int64_t i = q_begin + i_local;
  const int64_t n_head_kv = gridDim.x;
  const auto head_dim = static_cast<uint32_t>(q.ne[0]);
  const int64_t group = q.ne[1] / n_head_kv;
  const int lane = static_cast<int>(threadIdx.x) % kWarp;
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const auto& head = reinterpret_cast<const SlotHeadOnDevice*>(staging)[g];
  const int64_t n = head.n_slots;
  const int32_t query_pos = pos_q[i];

  auto* reduce = reinterpret_cast<double*>(shared);  // kWarp doubles
  float* q32 = shared + 2 * kWarp;                   // [group][head_dim]
  float* q16 = q32 + group * head_dim;               // the same, rounded to F16
  for (int64_t e = threadIdx.x; e < group * head_dim; e += kThreads) {
    const int64_t h = e / head_dim;
    const float x =
        at_offset<const float>(q, (g * group + h) * q.nb[1] + i * q.nb[2])[e % head_dim];
    q32[e] = x;
    q16[e] = round_to_f16(x);
  }
  __syncthreads();

  float* sc = scores + (i_local * n_head_kv + g) * group * max_slots;  // [group][max_slots]
  for (uint32_t t = 0; t < head.n_tiers; ++t) {
    const SlotTierOnDevice& tier = head.tiers[t];
    const auto* positions = reinterpret_cast<const int32_t*>(staging + tier.positions);
    if (tier.bits == 16) {  // a thread per slot, as ATTENTION over an F16 cache scores a key
      for (uint32_t idx = threadIdx.x; idx < tier.n_slots; idx += kThreads) {
        const int64_t s = tier.first_slot + idx;
        if (positions[idx] > query_pos) {
          for (int64_t h = 0; h < group; ++h) sc[h * max_slots + s] = -INFINITY;
          continue;
        }
        const auto* k = reinterpret_cast<const uint16_t*>(
            staging + tier.k + static_cast<uint64_t>(idx) * tier.record_bytes);
        for (int64_t h = 0; h < group; ++h) {
          float dot = 0.0f;
          for (uint32_t d = 0; d < head_dim; ++d)
            dot = fmaf(q16[h * head_dim + d], half_bits_to_float(k[d]), dot);
          sc[h * max_slots + s] = dot * scale;
        }
      }
      continue;
    }
    for (uint32_t idx = warp; idx < tier.n_slots; idx += kWarps) {
      const int64_t s = tier.first_slot + idx;
      if (positions[idx] > query_pos) {
        if (lane < group)
          for (int64_t h = lane; h < group; h += kWarp) sc[h * max_slots + s] = -INFINITY;
        continue;
      }
      const uint8_t* k = staging + tier.k + static_cast<uint64_t>(idx) * tier.record_bytes;
      float kv[kValuesPerLane];
#pragma unroll
      for (int c = 0; c < kValuesPerLane; ++c) {
        const uint32_t d = lane + c * kWarp;
        kv[c] = d < head_dim ? decode_channel(k, tier.bits, d, head_dim, group_size) : 0.0f;
      }
      for (int64_t h = 0; h < group; ++h) {
        float dot = 0.0f;
#pragma unroll
        for (int c = 0; c < kValuesPerLane; ++c) {
          const uint32_t d = lane + c * kWarp;
          if (d < head_dim) dot += q32[h * head_dim + d] * kv[c];
        }
        dot = warp_sum(dot);
        if (lane == 0) sc[h * max_slots + s] = dot * scale;
      }
    }
  }
  __syncthreads();

  // Softmax per query head over the visible slots; hidden ones are -inf and come out 0.
  for (int64_t h = 0; h < group; ++h) {
    float* row = sc + h * max_slots;
    const SoftmaxStats stats = softmax_stats(row, n, reduce);
    __syncthreads();  // every thread has read the scores it is about to overwrite
    for (int64_t s = threadIdx.x; s < n; s += kThreads)
      row[s] = stats.max == -INFINITY ? 0.0f : expf(row[s] - stats.max) * stats.inv;
    __syncthreads();
  }

  if (mass) {
    float* m = mass + (i * n_head_kv + g) * mass_stride;
    for (int64_t s = threadIdx.x; s < mass_stride; s += kThreads) {
      float sum = 0.0f;
      if (s < n)
        for (int64_t h = 0; h < group; ++h) sum += sc[h * max_slots + s];
      m[s] = sum;
    }
  }

  for (int64_t e = threadIdx.x; e < group * head_dim; e += kThreads) {
    const int64_t h = e / head_dim;
    const auto d = static_cast<uint32_t>(e % head_dim);
    const float* p_row = sc + h * max_slots;
    // Sums per chunk of kChunkKeys slots, added in order (attention_f16_math.cuh).
    float total = 0.0f, chunk = 0.0f;
    for (uint32_t t = 0; t < head.n_tiers; ++t) {
      const SlotTierOnDevice& tier = head.tiers[t];
      const uint8_t* v = staging + tier.v;
      for (uint32_t idx = 0; idx < tier.n_slots; ++idx) {
        const int64_t s = tier.first_slot + idx;
        if (s > 0 && s % kChunkKeys == 0) {
          total += chunk;
          chunk = 0.0f;
        }
        float p = p_row[s];
        if (tier.bits == 16) p = round_to_f16(p);
        if (p == 0.0f) continue;
        chunk = fmaf(p,
                     decode_channel(v + static_cast<uint64_t>(idx) * tier.record_bytes, tier.bits,
                                    d, head_dim, group_size),
                     chunk);
      }
    }
    at_offset<float>(dst, (g * group + h) * dst.nb[1] + i * dst.nb[2])[d] = total + chunk;
  }
}

}  // namespace

size_t attention_slots_shared_bytes(int64_t group, int64_t head_dim) {
  return static_cast<size_t>(2 * group * head_dim + 2 * kWarp) * sizeof(float);
}

cudaError_t launch_attention_slots_kernel(const AttentionSlotsLaunch& l, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(l.n_head_kv), static_cast<unsigned>(l.n_q));
  const int64_t group = l.q.ne[1] / l.n_head_kv;
  launch_after_prior(attention_slots_kernel, grid, kThreads,
                     attention_slots_shared_bytes(group, l.q.ne[0]), stream, l.staging, l.q, l.dst,
                     l.pos_q, l.mass, l.mass_stride, l.scores, l.max_slots, l.group_size, l.scale,
                     l.q_begin);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

// ATTENTION over an F16 cache with the numerics of llama.cpp's default (non-flash) path, which
// made the reference logits: the query rounded to F16 before its products with the F16 keys, a
// softmax over every visible key, each probability rounded to F16 before it weights the F16
// values. A quantized model rounds its activations to 8 bits right after attention, so a result
// a float ulp off can move whole quantization steps; rounding where llama.cpp rounds keeps the
// logits with it. The exact operation order is attention_f16_math.cuh's.
//
// Rounding a probability needs the softmax's max and sum over all keys first, so the work is:
//  1. scores: a block per (query-head block, query, chunk of 256 keys), a thread per key scoring
//     it against every query head of the block (a KV head's query heads share each key read);
//     scores go to scratch, hidden keys as -inf.
//  2. values: a block per (query-head block, query, key range of whole chunks) computes each
//     head's softmax statistics from the scores (every block the same way, so all agree), then
//     per chunk the probabilities and each output channel's chunk sum. Unsplit it adds the
//     chunk sums in order and writes the output; split (decode, long caches) it writes them.
//  3. merge (split only): adds every chunk's sums in chunk order.
// Queries go in groups whose scores fit kMaxScoreBytes of scratch. A cache of one chunk (short
// contexts) takes a single kernel that does all three in shared memory, in the same order.
#include <algorithm>

#include "attention_f16_math.cuh"
#include "kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kMaxHeadsPerBlock = 16;
constexpr uint64_t kMaxScoreBytes = 64ull << 20;

struct F16AttentionLaunch {
  hearth_tensor q, k, v, dst;
  const int32_t* pos_q;
  const int32_t* pos_k;
  float scale;
  int64_t q_begin;          // first query of this launch; blockIdx.y counts from it
  int64_t heads_per_block;  // query heads of one KV head's group a block takes (divides group)
  int64_t chunks_per_split;
  float* scores;    // [queries of the launch][n_head][n_kv]
  float* partials;  // [queries of the launch][n_head][n_chunks][head_dim], split only
};

__device__ __forceinline__ int64_t chunk_count(int64_t n_kv) {
  return (n_kv + kChunkKeys - 1) / kChunkKeys;
}

// First query head of the block, and its KV head.
__device__ __forceinline__ void block_heads(const F16AttentionLaunch& p, int64_t& h0,
                                            int64_t& kv_head) {
  h0 = static_cast<int64_t>(blockIdx.x) * p.heads_per_block;
  kv_head = h0 / (p.q.ne[1] / p.k.ne[1]);
}

// One output channel's sum over n keys of a chunk: probability times the F16 value at column +
// jj * key_stride, in key order (attention_f16_math.cuh). Both kernels below call it, so they
// agree.
__device__ __forceinline__ float chunk_value_sum(const float* prob, const uint8_t* column,
                                                 int64_t key_stride, int64_t n) {
  float acc = 0.0f;
#pragma unroll 8
  for (int64_t jj = 0; jj < n; ++jj)
    acc =
        fmaf(prob[jj],
             half_bits_to_float(*reinterpret_cast<const uint16_t*>(column + jj * key_stride)), acc);
  return acc;
}

// The block's query heads, rounded to F16, into q16 ([heads_per_block][head_dim]).
__device__ __forceinline__ void load_queries(const F16AttentionLaunch& p, int64_t h0, int64_t i,
                                             float* q16) {
  const int64_t head_dim = p.q.ne[0];
  for (int64_t e = threadIdx.x; e < p.heads_per_block * head_dim; e += kF16AttentionThreads) {
    const int64_t h = e / head_dim;
    q16[e] = round_to_f16(
        at_offset<const float>(p.q, (h0 + h) * p.q.nb[1] + i * p.q.nb[2])[e % head_dim]);
  }
}

// Key j's scores against the block's heads, head h's at out[h * stride] (-inf where hidden): one
// fused multiply-add per channel in channel order. kMaxH bounds heads_per_block at compile time,
// so a block of one head does not issue sixteen guarded multiply-adds per channel.
template <bool kVectorRows, int kMaxH>
__device__ __forceinline__ void score_key(const F16AttentionLaunch& p, const float* q16,
                                          int64_t kv_head, int64_t i, int64_t j, float* out,
                                          int64_t stride) {
  const int64_t head_dim = p.q.ne[0];
  const int64_t H = p.heads_per_block;
  if (p.pos_k[j] > p.pos_q[i]) {
    for (int64_t h = 0; h < H; ++h) out[h * stride] = -INFINITY;
    return;
  }
  const auto* key = static_cast<const uint8_t*>(p.k.data) + kv_head * p.k.nb[1] + j * p.k.nb[2];
  float dot[kMaxH];
#pragma unroll
  for (int h = 0; h < kMaxH; ++h) dot[h] = 0.0f;
  const auto channel = [&](int64_t d, float kd) {
#pragma unroll
    for (int h = 0; h < kMaxH; ++h)
      if (kMaxH == 1 || h < H) dot[h] = fmaf(q16[h * head_dim + d], kd, dot[h]);
  };
  if constexpr (kVectorRows) {  // 8 channels per 16-byte load
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
      const uint4 u = *reinterpret_cast<const uint4*>(key + 2 * d0);
      const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        channel(d0 + 2 * w, half_bits_to_float(static_cast<uint16_t>(words[w] & 0xFFFFu)));
        channel(d0 + 2 * w + 1, half_bits_to_float(static_cast<uint16_t>(words[w] >> 16)));
      }
    }
  } else {
    const auto* kr = reinterpret_cast<const uint16_t*>(key);
    for (int64_t d = 0; d < head_dim; ++d) channel(d, half_bits_to_float(kr[d]));
  }
#pragma unroll
  for (int h = 0; h < kMaxH; ++h)
    if (h < H) out[h * stride] = dot[h] * p.scale;
}

template <bool kVectorRows, int kMaxH>
__global__ void __launch_bounds__(kF16AttentionThreads)
    attention_f16_scores_kernel(F16AttentionLaunch p) {
  wait_for_prior_kernels();
  extern __shared__ float q16[];  // [heads_per_block][head_dim]
  int64_t h0, kv_head;
  block_heads(p, h0, kv_head);
  const int64_t il = blockIdx.y;
  const int64_t i = p.q_begin + il;
  const int64_t n_kv = p.k.ne[2];
  load_queries(p, h0, i, q16);
  __syncthreads();
  const int64_t j = static_cast<int64_t>(blockIdx.z) * kChunkKeys + threadIdx.x;
  if (j >= n_kv) return;
  score_key<kVectorRows, kMaxH>(p, q16, kv_head, i, j, p.scores + (il * p.q.ne[1] + h0) * n_kv + j,
                                n_kv);
}

// A cache of at most one chunk (decode at short context): the scores, the softmax, the
// probabilities and the values in one block per (query-head block, query), in shared memory, with
// the same operations in the same order as the scores and values kernels.
template <bool kVectorRows, int kMaxH>
__global__ void __launch_bounds__(kF16AttentionThreads)
    attention_f16_one_chunk_kernel(F16AttentionLaunch p) {
  wait_for_prior_kernels();
  extern __shared__ float shared[];
  __shared__ double reduce[kWarp];
  __shared__ SoftmaxStats stats[kMaxHeadsPerBlock];
  int64_t h0, kv_head;
  block_heads(p, h0, kv_head);
  const int64_t i = p.q_begin + blockIdx.y;
  const int64_t head_dim = p.q.ne[0];
  const int64_t n_kv = p.k.ne[2];
  const int64_t H = p.heads_per_block;
  float* q16 = shared;                // [H][head_dim]
  float* sc = shared + H * head_dim;  // [H][kChunkKeys]: scores, then probabilities
  load_queries(p, h0, i, q16);
  __syncthreads();
  const int64_t j = threadIdx.x;
  if (j < n_kv) score_key<kVectorRows, kMaxH>(p, q16, kv_head, i, j, sc + j, kChunkKeys);
  __syncthreads();
  for (int64_t h = 0; h < H; ++h) {
    const SoftmaxStats s = softmax_stats(sc + h * kChunkKeys, n_kv, reduce);
    if (threadIdx.x == 0) stats[h] = s;
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e < H * kChunkKeys; e += kF16AttentionThreads) {
    const int64_t h = e / kChunkKeys, jj = e % kChunkKeys;
    sc[e] = jj < n_kv && stats[h].max != -INFINITY ? f16_probability(sc[e], stats[h]) : 0.0f;
  }
  __syncthreads();
  const auto* values = static_cast<const uint8_t*>(p.v.data) + kv_head * p.v.nb[1];
  for (int64_t e = threadIdx.x; e < H * head_dim; e += kF16AttentionThreads) {
    const int64_t h = e / head_dim, d = e % head_dim;
    const float* ph = sc + h * kChunkKeys;
    const uint8_t* column = values + 2 * d;
    const float acc = chunk_value_sum(ph, column, p.v.nb[2], n_kv);
    float total = 0.0f;  // the chunk sums' running total, as the values kernel keeps it
    total += acc;
    at_offset<float>(p.dst, (h0 + h) * p.dst.nb[1] + i * p.dst.nb[2])[d] = total;
  }
}

template <int kMaxH>
void launch_scores(const F16AttentionLaunch& p, bool vector_rows, bool one_chunk, dim3 grid,
                   size_t shared, cudaStream_t stream) {
  if (one_chunk && vector_rows)
    launch_after_prior(attention_f16_one_chunk_kernel<true, kMaxH>, grid, kF16AttentionThreads,
                       shared, stream, p);
  else if (one_chunk)
    launch_after_prior(attention_f16_one_chunk_kernel<false, kMaxH>, grid, kF16AttentionThreads,
                       shared, stream, p);
  else if (vector_rows)
    launch_after_prior(attention_f16_scores_kernel<true, kMaxH>, grid, kF16AttentionThreads, shared,
                       stream, p);
  else
    launch_after_prior(attention_f16_scores_kernel<false, kMaxH>, grid, kF16AttentionThreads,
                       shared, stream, p);
}

// The scores kernel, or with one_chunk the whole op, for the plan's heads per block.
void launch_first(const F16AttentionLaunch& p, int64_t heads_per_block, bool vector_rows,
                  bool one_chunk, dim3 grid, size_t shared, cudaStream_t stream) {
  if (heads_per_block == 1)
    launch_scores<1>(p, vector_rows, one_chunk, grid, shared, stream);
  else if (heads_per_block == 2)
    launch_scores<2>(p, vector_rows, one_chunk, grid, shared, stream);
  else if (heads_per_block <= 4)
    launch_scores<4>(p, vector_rows, one_chunk, grid, shared, stream);
  else if (heads_per_block <= 8)
    launch_scores<8>(p, vector_rows, one_chunk, grid, shared, stream);
  else
    launch_scores<kMaxHeadsPerBlock>(p, vector_rows, one_chunk, grid, shared, stream);
}

// Chunks whose sums a block forms at once: enough (head, channel) work for every thread when a
// block has few heads (Llama-2-7B: one head of 128 channels); the sums are still added in order.
__host__ __device__ constexpr int64_t chunks_at_once(int64_t heads, int64_t head_dim) {
  const int64_t pairs = heads * head_dim;
  return pairs >= kF16AttentionThreads ? 1 : 2 * pairs >= kF16AttentionThreads ? 2 : 4;
}

// Dynamic shared floats of the values kernel: probabilities, totals and (several chunks at once)
// the chunk sums waiting to be added in order.
__host__ __device__ constexpr int64_t values_shared_floats(int64_t heads, int64_t head_dim) {
  const int64_t at_once = chunks_at_once(heads, head_dim);
  return heads * (at_once * kChunkKeys + head_dim) + (at_once > 1 ? at_once * heads * head_dim : 0);
}

__global__ void __launch_bounds__(kF16AttentionThreads)
    attention_f16_values_kernel(F16AttentionLaunch p) {
  wait_for_prior_kernels();
  extern __shared__ float shared[];
  __shared__ double reduce[kWarp];
  __shared__ SoftmaxStats stats[kMaxHeadsPerBlock];
  int64_t h0, kv_head;
  block_heads(p, h0, kv_head);
  const int64_t il = blockIdx.y;
  const int64_t i = p.q_begin + il;
  const int64_t head_dim = p.q.ne[0];
  const int64_t n_head = p.q.ne[1];
  const int64_t n_kv = p.k.ne[2];
  const int64_t H = p.heads_per_block;
  const int64_t pairs = H * head_dim;
  const int64_t at_once = chunks_at_once(H, head_dim);
  const int64_t n_chunks = chunk_count(n_kv);
  const bool split = gridDim.z > 1;
  const float* scores = p.scores + (il * n_head + h0) * n_kv;  // head h at scores[h * n_kv]

  for (int64_t h = 0; h < H; ++h) {
    const SoftmaxStats s = softmax_stats(scores + h * n_kv, n_kv, reduce);
    if (threadIdx.x == 0) stats[h] = s;
  }
  float* prob = shared;                            // [at_once][H][kChunkKeys]
  float* total = prob + at_once * H * kChunkKeys;  // [H][head_dim]
  float* sums = total + pairs;                     // [at_once][H][head_dim]
  for (int64_t e = threadIdx.x; e < pairs; e += kF16AttentionThreads) total[e] = 0.0f;

  const int64_t c_begin = static_cast<int64_t>(blockIdx.z) * p.chunks_per_split;
  const int64_t c_end =
      c_begin + p.chunks_per_split < n_chunks ? c_begin + p.chunks_per_split : n_chunks;
  const auto keys_in = [&](int64_t c) {
    return c < c_end ? (n_kv - c * kChunkKeys < kChunkKeys ? n_kv - c * kChunkKeys : kChunkKeys)
                     : int64_t{0};
  };
  const auto* values = static_cast<const uint8_t*>(p.v.data) + kv_head * p.v.nb[1];
  for (int64_t c0 = c_begin; c0 < c_end; c0 += at_once) {
    __syncthreads();  // stats ready; the previous chunks' probabilities and sums consumed
    int visible = 0;
    for (int64_t e = threadIdx.x; e < at_once * H * kChunkKeys; e += kF16AttentionThreads) {
      const int64_t sub = e / (H * kChunkKeys), h = e / kChunkKeys % H, jj = e % kChunkKeys;
      const int64_t c = c0 + sub;
      const float pr = jj < keys_in(c) && stats[h].max != -INFINITY
                           ? f16_probability(scores[h * n_kv + c * kChunkKeys + jj], stats[h])
                           : 0.0f;
      prob[e] = pr;
      visible |= pr != 0.0f;
    }
    // Chunks every key of which is hidden (most of them in a causal prompt) add exact zeros.
    const bool any = __syncthreads_or(visible) != 0;
    for (int64_t e = threadIdx.x; e < at_once * pairs; e += kF16AttentionThreads) {
      const int64_t sub = e / pairs, h = e % pairs / head_dim, d = e % head_dim;
      const int64_t c = c0 + sub;
      const int64_t n = any ? keys_in(c) : 0;
      const float* ph = prob + (sub * H + h) * kChunkKeys;
      const uint8_t* column = values + c * kChunkKeys * p.v.nb[2] + 2 * d;
      const float acc = chunk_value_sum(ph, column, p.v.nb[2], n);
      if (!split && at_once == 1)
        total[e] += acc;
      else if (!split)
        sums[e] = acc;
      else if (c < c_end)
        p.partials[((il * n_head + h0 + h) * n_chunks + c) * head_dim + d] = acc;
    }
    if (split || at_once == 1) continue;
    __syncthreads();
    for (int64_t e = threadIdx.x; e < pairs; e += kF16AttentionThreads)
      for (int64_t sub = 0; sub < at_once && c0 + sub < c_end; ++sub)
        total[e] += sums[sub * pairs + e];
  }
  if (split) return;
  for (int64_t e = threadIdx.x; e < pairs; e += kF16AttentionThreads) {
    const int64_t h = e / head_dim;
    at_offset<float>(p.dst, (h0 + h) * p.dst.nb[1] + i * p.dst.nb[2])[e % head_dim] = total[e];
  }
}

// One block per (query head, query): adds the chunk sums in chunk order.
__global__ void __launch_bounds__(kWarp) attention_f16_merge_kernel(F16AttentionLaunch p) {
  wait_for_prior_kernels();
  const int64_t h = blockIdx.x;
  const int64_t il = blockIdx.y;
  const int64_t head_dim = p.q.ne[0];
  const int64_t n_chunks = chunk_count(p.k.ne[2]);
  const float* parts = p.partials + (il * p.q.ne[1] + h) * n_chunks * head_dim;
  float* out = at_offset<float>(p.dst, h * p.dst.nb[1] + (p.q_begin + il) * p.dst.nb[2]);
  for (int64_t d = threadIdx.x; d < head_dim; d += kWarp) {
    float total = 0.0f;
    for (int64_t c = 0; c < n_chunks; ++c) total += parts[c * head_dim + d];
    out[d] = total;
  }
}

struct Plan {
  int64_t heads_per_block;
  int64_t n_chunks;
  int64_t chunks_per_split;
  int64_t splits;
  int64_t queries_per_launch;
};

Plan plan_for(const hearth_op& op, int64_t n_splits) {
  const hearth_tensor& q = op.src[0];
  const hearth_tensor& k = op.src[1];
  Plan plan{};
  const int64_t group = k.ne[1] > 0 ? q.ne[1] / k.ne[1] : 1;
  plan.heads_per_block = 1;
  for (int64_t h = kMaxHeadsPerBlock; h > 1; --h)
    if (group % h == 0) {
      plan.heads_per_block = h;
      break;
    }
  const int64_t n_kv = k.ne[2];
  plan.n_chunks = std::max<int64_t>(1, (n_kv + kChunkKeys - 1) / kChunkKeys);
  const int64_t wanted = std::clamp<int64_t>(n_splits, 1, plan.n_chunks);
  plan.chunks_per_split = (plan.n_chunks + wanted - 1) / wanted;
  plan.splits = (plan.n_chunks + plan.chunks_per_split - 1) / plan.chunks_per_split;
  const uint64_t per_query = static_cast<uint64_t>(q.ne[1] * std::max<int64_t>(n_kv, 1)) * 4;
  plan.queries_per_launch =
      std::clamp<int64_t>(static_cast<int64_t>(kMaxScoreBytes / per_query), 1, q.ne[2]);
  return plan;
}

uint64_t round_up_256(uint64_t bytes) { return (bytes + 255) / 256 * 256; }

uint64_t score_bytes(const hearth_op& op, const Plan& plan) {
  return round_up_256(static_cast<uint64_t>(plan.queries_per_launch * op.src[0].ne[1] *
                                            std::max<int64_t>(op.src[1].ne[2], 1)) *
                      sizeof(float));
}

}  // namespace

int64_t attention_f16_splits(const hearth_op& op, int sm_count) {
  const hearth_tensor& q = op.src[0];
  const Plan plan = plan_for(op, 1);
  const int64_t blocks = q.ne[1] / plan.heads_per_block * q.ne[2];
  const int64_t wanted_blocks = 2 * static_cast<int64_t>(sm_count > 0 ? sm_count : 1);
  if (blocks <= 0 || blocks >= wanted_blocks) return 1;
  return std::min<int64_t>((wanted_blocks + blocks - 1) / blocks, plan.n_chunks);
}

uint64_t attention_f16_scratch_bytes(const hearth_op& op, int64_t n_splits) {
  const hearth_tensor& q = op.src[0];
  const Plan plan = plan_for(op, n_splits);
  const uint64_t partial_bytes =
      plan.splits > 1
          ? static_cast<uint64_t>(plan.queries_per_launch * q.ne[1] * plan.n_chunks * q.ne[0]) *
                sizeof(float)
          : 0;
  return score_bytes(op, plan) + partial_bytes;
}

cudaError_t launch_attention_f16(const hearth_op& op, int64_t n_splits, void* scratch,
                                 cudaStream_t stream) {
  const hearth_tensor& q = op.src[0];
  const hearth_tensor& k = op.src[1];
  if (q.ne[1] == 0 || q.ne[2] == 0) return cudaSuccess;
  if (scratch == nullptr) return cudaErrorInvalidValue;  // the scores always live there
  const Plan plan = plan_for(op, n_splits);
  F16AttentionLaunch p{};
  p.q = q;
  p.k = k;
  p.v = op.src[2];
  p.dst = op.dst;
  p.pos_q = static_cast<const int32_t*>(op.src[3].data);
  p.pos_k = static_cast<const int32_t*>(op.src[4].data);
  p.scale = op.fparams[0];
  p.heads_per_block = plan.heads_per_block;
  p.chunks_per_split = plan.chunks_per_split;
  p.scores = static_cast<float*>(scratch);
  p.partials = reinterpret_cast<float*>(static_cast<char*>(scratch) + score_bytes(op, plan));
  const auto aligned16 = [](int64_t v) { return v % 16 == 0; };
  const bool vector_rows = q.ne[0] % 8 == 0 && reinterpret_cast<uintptr_t>(k.data) % 16 == 0 &&
                           aligned16(k.nb[1]) && aligned16(k.nb[2]);
  const auto head_blocks = static_cast<unsigned>(q.ne[1] / plan.heads_per_block);
  const size_t q_bytes = static_cast<size_t>(plan.heads_per_block * q.ne[0]) * sizeof(float);
  const size_t value_bytes =
      static_cast<size_t>(values_shared_floats(plan.heads_per_block, q.ne[0])) * sizeof(float);
  if (k.ne[2] > 0 && k.ne[2] <= kChunkKeys) {  // one kernel, no scratch traffic
    p.q_begin = 0;
    const size_t one_chunk_bytes =
        static_cast<size_t>(plan.heads_per_block * (q.ne[0] + kChunkKeys)) * sizeof(float);
    launch_first(p, plan.heads_per_block, vector_rows, true,
                 dim3(head_blocks, static_cast<unsigned>(q.ne[2])), one_chunk_bytes, stream);
    return cudaGetLastError();
  }
  for (int64_t q0 = 0; q0 < q.ne[2]; q0 += plan.queries_per_launch) {
    const int64_t n_q = std::min(plan.queries_per_launch, q.ne[2] - q0);
    p.q_begin = q0;
    const dim3 score_grid(head_blocks, static_cast<unsigned>(n_q),
                          static_cast<unsigned>(plan.n_chunks));
    if (k.ne[2] > 0)
      launch_first(p, plan.heads_per_block, vector_rows, false, score_grid, q_bytes, stream);
    const dim3 value_grid(head_blocks, static_cast<unsigned>(n_q),
                          static_cast<unsigned>(plan.splits));
    launch_after_prior(attention_f16_values_kernel, value_grid, kF16AttentionThreads, value_bytes,
                       stream, p);
    if (plan.splits > 1)
      launch_after_prior(attention_f16_merge_kernel,
                         dim3(static_cast<unsigned>(q.ne[1]), static_cast<unsigned>(n_q)), kWarp, 0,
                         stream, p);
  }
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

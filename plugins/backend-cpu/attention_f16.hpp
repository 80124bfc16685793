// ATTENTION over an F16 cache for the query heads that share one KV head (kernel_attention.cpp
// calls it on AVX2 machines): each key and value row is widened to float once for all of those
// heads instead of once per head, and the softmax's exponentials are vector ones.
#pragma once

#include <cstdint>
#include <vector>

namespace hearth::backend_cpu {

inline constexpr int kF16GroupMaxHeads = 8;

// One query position, heads that read the same KV head.
struct F16HeadGroup {
  int64_t head_dim = 0;  // a multiple of 8
  int n_heads = 0;       // 1..kF16GroupMaxHeads
  const float* q[kF16GroupMaxHeads] = {};
  float* out[kF16GroupMaxHeads] = {};
  const char* k = nullptr;  // key j: head_dim F16 values at k + j * k_stride
  int64_t k_stride = 0;
  const char* v = nullptr;
  int64_t v_stride = 0;
  const int32_t* visible = nullptr;  // the keys this query sees, ascending
  int64_t n_visible = 0;
  float scale = 1.0f;
};

// Per-thread buffers, grown on demand.
struct F16AttentionScratch {
  std::vector<float> q16;    // n_heads x head_dim
  std::vector<float> probs;  // n_heads x n_visible
  std::vector<float> rows;   // a block of widened key or value rows
};

// out[h] = softmax(q16[h] . k * scale) . v with kernel_attention.cpp's F16-cache numerics: the
// query rounded to F16, each dot product in dot_f16_avx2's order, exp through softmax_exp, each
// normalized probability rounded to F16 (zeros skipped), values added as out + p * v in key
// order. AVX2+FMA+F16C; call only when cpu_has_avx2().
void attend_f16_heads_avx2(const F16HeadGroup& group, F16AttentionScratch& scratch);

}  // namespace hearth::backend_cpu

// ATTENTION: for each (query, head) pair, scores against every visible key (pos_k <= pos_q),
// a softmax as ggml's (float max, exp summed in double through softmax_exp, one multiply by
// 1/sum), then the probability-weighted sum of values. Threaded over (query, head) pairs (over
// (query, KV head) groups for an F16 cache on AVX2); a query that sees no key gets zeros rather
// than NaN.
//
// With an F16 cache (k and v F16) the products are ggml's non-flash ones: mul_mat(K, Q) converts
// Q to F16 before its F16 dots, and mul_mat(V, KQ) converts the probabilities to F16; both
// accumulate in F32. Rounding the same way is what makes our logits agree with llama.cpp's,
// whose KV cache is F16 by default.
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention_f16.hpp"
#include "float_dot.hpp"
#include "kernels.hpp"
#include "quant_kernels.hpp"
#include "rowwise_simd.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

float round_to_f16(float x) { return sdk::fp16_to_fp32(sdk::fp32_to_fp16(x)); }

// The F32 cache: plain float dots and products.
struct F32Kv {
  const hearth_tensor& k;
  const hearth_tensor& v;
  int64_t head_dim;

  void prepare_query(const float* /*q*/) {}
  float score(const float* q, int64_t kv_head, int64_t j) const {
    return dot_f32(q, row3<const float>(k, kv_head, j), head_dim);
  }
  void accumulate(float p, int64_t kv_head, int64_t j, float* out) {
    const float* vr = row3<const float>(v, kv_head, j);
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p * vr[d];
  }
};

// The F16 cache: the query and each probability rounded to F16 first (see the top comment).
struct F16Kv {
  const hearth_tensor& k;
  const hearth_tensor& v;
  int64_t head_dim;
  std::vector<float> q16;    // this item's query, rounded to F16
  std::vector<float> v_row;  // one value row widened to F32
  bool avx2 = cpu_has_avx2();

  F16Kv(const hearth_tensor& k_, const hearth_tensor& v_, int64_t head_dim_)
      : k(k_),
        v(v_),
        head_dim(head_dim_),
        q16(static_cast<size_t>(head_dim_)),
        v_row(static_cast<size_t>(head_dim_)) {}

  void prepare_query(const float* q) {
    if (avx2) return round_to_f16_avx2(q, q16.data(), head_dim);
    for (int64_t d = 0; d < head_dim; ++d) q16[d] = round_to_f16(q[d]);
  }
  float score(const float* /*q*/, int64_t kv_head, int64_t j) const {
    return dot_weight_row(HEARTH_DTYPE_F16, row3<const uint16_t>(k, kv_head, j), q16.data(),
                          head_dim);
  }
  void accumulate(float p, int64_t kv_head, int64_t j, float* out) {
    const float p16 = avx2 ? round_to_f16_avx2(p) : round_to_f16(p);
    if (p16 == 0.0f) return;
    // Widening each value row in software was 16-21 % of a prompt's CPU time; F16C does it in
    // the same multiply-then-add order, so both paths give the same bits.
    if (avx2) return axpy_f16_avx2(p16, row3<const uint16_t>(v, kv_head, j), out, head_dim);
    dequantize_weight_row(HEARTH_DTYPE_F16, row3<const uint16_t>(v, kv_head, j), v_row.data(),
                          head_dim);
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p16 * v_row[d];
  }
};

template <class Kv>
void attend(const hearth_op& op, ThreadPool& pool, const Kv& prototype) {
  const hearth_tensor& q = op.src[0];
  const auto* pos_q = static_cast<const int32_t*>(op.src[3].data);
  const auto* pos_k = static_cast<const int32_t*>(op.src[4].data);
  const int64_t head_dim = q.ne[0];
  const int64_t n_head = q.ne[1];
  const int64_t n_kv = op.src[1].ne[2];
  const int64_t group = n_head / op.src[1].ne[1];
  const float scale = op.fparams[0];
  const int64_t items = q.ne[2] * n_head;
  // Each (query, head) item costs ~n_kv * head_dim * 2 multiply-adds plus a few ns per key
  // (~3 us at n_kv 16, head_dim 64, F16); 16k of those per chunk are worth a thread, so a decode
  // step's 32 heads are split from n_kv 16 on.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(n_kv * head_dim, 1));

  pool.parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    Kv kv = prototype;  // per-thread scratch
    std::vector<float> probs(static_cast<size_t>(n_kv)), visible_probs;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / n_head;
      const int64_t h = item % n_head;
      const int64_t kv_head = h / group;
      const float* qr = row3<const float>(q, h, i);
      float* out = row3<float>(op.dst, h, i);
      std::fill(out, out + head_dim, 0.0f);
      kv.prepare_query(qr);

      float max = -std::numeric_limits<float>::infinity();
      bool any_visible = false;
      for (int64_t j = 0; j < n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        probs[j] = kv.score(qr, kv_head, j) * scale;
        max = std::max(max, probs[j]);
        any_visible = true;
      }
      if (!any_visible) continue;
      // The visible scores packed in key order through softmax_exp (as ATTENTION_SLOTS does,
      // so the two agree bit for bit), then back in place; hidden keys get 0.
      visible_probs.clear();
      for (int64_t j = 0; j < n_kv; ++j)
        if (pos_k[j] <= pos_q[i]) visible_probs.push_back(probs[j]);
      const double sum =
          softmax_exp(visible_probs.data(), static_cast<int64_t>(visible_probs.size()), max);
      for (int64_t j = 0, c = 0; j < n_kv; ++j)
        probs[j] = pos_k[j] > pos_q[i] ? 0.0f : visible_probs[static_cast<size_t>(c++)];
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n_kv; ++j) {
        if (probs[j] == 0.0f) continue;
        kv.accumulate(probs[j] * inv, kv_head, j, out);
      }
    }
  });
}

// The F16 cache on AVX2 machines: one work item is a query and up to kF16GroupMaxHeads heads
// that share a KV head (attention_f16_avx2.cpp), so each key and value row is widened once for
// all of them. Same numerics as F16Kv except the softmax's exp (softmax_exp, the vector form).
void attend_f16_grouped(const hearth_op& op, ThreadPool& pool) {
  const hearth_tensor& q = op.src[0];
  const hearth_tensor& k = op.src[1];
  const hearth_tensor& v = op.src[2];
  const auto* pos_q = static_cast<const int32_t*>(op.src[3].data);
  const auto* pos_k = static_cast<const int32_t*>(op.src[4].data);
  const int64_t head_dim = q.ne[0];
  const int64_t n_head = q.ne[1];
  const int64_t n_head_kv = k.ne[1];
  const int64_t n_kv = k.ne[2];
  const int64_t group = n_head / n_head_kv;
  const int64_t parts = (group + kF16GroupMaxHeads - 1) / kF16GroupMaxHeads;
  const int64_t items = q.ne[2] * n_head_kv * parts;
  const int64_t heads_per_item = std::min<int64_t>(group, kF16GroupMaxHeads);
  const int64_t grain =
      std::max<int64_t>(1, 16384 / std::max<int64_t>(n_kv * head_dim * heads_per_item, 1));

  pool.parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    F16AttentionScratch scratch;
    std::vector<int32_t> visible;
    int64_t visible_for = -1;  // the query whose visible keys `visible` holds
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / (n_head_kv * parts);
      const int64_t kv_head = item / parts % n_head_kv;
      const int64_t first = kv_head * group + item % parts * kF16GroupMaxHeads;
      const int64_t last = std::min(first + kF16GroupMaxHeads, (kv_head + 1) * group);
      if (visible_for != i) {
        visible.clear();
        for (int64_t j = 0; j < n_kv; ++j)
          if (pos_k[j] <= pos_q[i]) visible.push_back(static_cast<int32_t>(j));
        visible_for = i;
      }
      F16HeadGroup g;
      g.head_dim = head_dim;
      g.n_heads = static_cast<int>(last - first);
      for (int64_t h = first; h < last; ++h) {
        g.q[h - first] = row3<const float>(q, h, i);
        g.out[h - first] = row3<float>(op.dst, h, i);
      }
      g.k = row3<const char>(k, kv_head, 0);
      g.k_stride = k.nb[2];
      g.v = row3<const char>(v, kv_head, 0);
      g.v_stride = v.nb[2];
      g.visible = visible.data();
      g.n_visible = static_cast<int64_t>(visible.size());
      g.scale = op.fparams[0];
      attend_f16_heads_avx2(g, scratch);
    }
  });
}

}  // namespace

void run_attention(const hearth_op& op, ThreadPool& pool) {
  const int64_t head_dim = op.src[0].ne[0];
  if (op.src[1].dtype == HEARTH_DTYPE_F16 && cpu_has_avx2() && head_dim % 8 == 0)
    return attend_f16_grouped(op, pool);
  if (op.src[1].dtype == HEARTH_DTYPE_F16)
    return attend(op, pool, F16Kv(op.src[1], op.src[2], head_dim));
  return attend(op, pool, F32Kv{op.src[1], op.src[2], head_dim});
}

}  // namespace hearth::backend_cpu

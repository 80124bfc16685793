// ATTENTION: for each (query, head) pair, scores against every visible key (pos_k <= pos_q),
// a softmax as ggml's (float max, exp summed in double, one multiply by 1/sum), then the
// probability-weighted sum of values. Threaded over (query, head) pairs; a query that sees no key
// gets zeros rather than NaN.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {

void run_attention(const hearth_op& op, ThreadPool& pool) {
  const hearth_tensor& q = op.src[0];
  const hearth_tensor& k = op.src[1];
  const hearth_tensor& v = op.src[2];
  const auto* pos_q = static_cast<const int32_t*>(op.src[3].data);
  const auto* pos_k = static_cast<const int32_t*>(op.src[4].data);
  const int64_t head_dim = q.ne[0];
  const int64_t n_head = q.ne[1];
  const int64_t n_kv = k.ne[2];
  const int64_t group = n_head / k.ne[1];
  const float scale = op.fparams[0];
  const int64_t items = q.ne[2] * n_head;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(n_kv * head_dim, 1));

  pool.parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> probs(static_cast<size_t>(n_kv));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / n_head;
      const int64_t h = item % n_head;
      const int64_t kv_head = h / group;
      const float* qr = row3<const float>(q, h, i);
      float* out = row3<float>(op.dst, h, i);
      std::fill(out, out + head_dim, 0.0f);

      float max = -std::numeric_limits<float>::infinity();
      bool any_visible = false;
      for (int64_t j = 0; j < n_kv; ++j) {
        if (pos_k[j] > pos_q[i]) continue;
        probs[j] = dot_f32(qr, row3<const float>(k, kv_head, j), head_dim) * scale;
        max = std::max(max, probs[j]);
        any_visible = true;
      }
      if (!any_visible) continue;
      double sum = 0.0;
      for (int64_t j = 0; j < n_kv; ++j) {
        probs[j] = pos_k[j] > pos_q[i] ? 0.0f : std::exp(probs[j] - max);
        sum += probs[j];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n_kv; ++j) {
        if (probs[j] == 0.0f) continue;
        const float p = probs[j] * inv;
        const float* vr = row3<const float>(v, kv_head, j);
        for (int64_t d = 0; d < head_dim; ++d) out[d] += p * vr[d];
      }
    }
  });
}

}  // namespace hearth::backend_cpu

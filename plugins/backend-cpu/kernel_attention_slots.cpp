// ATTENTION_SLOTS: attention over a policy-managed KV cache (abi.h). Each KV head has its own
// slots, grouped in precision tiers. One work item is a (query, KV head) pair, so each quantized
// record is expanded once for all the query heads of the group, and the attention mass of the
// group is summed without races.
//
// A 16-bit slot is scored and weighted exactly as kernel_attention.cpp's F16 cache (query and
// probability rounded to F16): with every slot at 16 bits, in insertion order, the result is
// bit-identical to ATTENTION over an F16 cache, which is what makes the `full` policy equal the
// plain cache.
#include <hearth/sdk/half.hpp>
#include <hearth/sdk/kv_quant.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.hpp"
#include "rowwise_simd.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

float round_to_f16(float x) { return sdk::fp16_to_fp32(sdk::fp32_to_fp16(x)); }

struct SlotRef {
  const hearth_kv_slot_tier* tier;
  uint32_t index;
};

}  // namespace

void run_attention_slots(const hearth_op& op, ThreadPool& pool) {
  const hearth_tensor& q = op.src[0];
  const auto* table = static_cast<const hearth_kv_slot_head*>(op.src[1].data);
  const auto* pos_q = static_cast<const int32_t*>(op.src[2].data);
  const hearth_tensor* mass = op.n_src == 4 ? &op.src[3] : nullptr;
  const auto head_dim = static_cast<uint32_t>(q.ne[0]);
  const int64_t n_head = q.ne[1];
  const int64_t n_q = q.ne[2];
  const int64_t n_head_kv = op.src[1].ne[0];
  const int64_t group = n_head / n_head_kv;
  const auto group_size = static_cast<uint32_t>(op.iparams[0]);
  const float scale = op.fparams[0];

  pool.parallel_for(n_q * n_head_kv, 1, [&](int64_t begin, int64_t end) {
    std::vector<SlotRef> slots;
    std::vector<float> scores, q16(static_cast<size_t>(group) * head_dim), row(head_dim);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t i = item / n_head_kv;
      const int64_t g = item % n_head_kv;
      const hearth_kv_slot_head& head = table[g];
      slots.clear();
      for (uint32_t t = 0; t < head.n_tiers; ++t)
        for (uint32_t s = 0; s < head.tiers[t].n_slots; ++s)
          if (head.tiers[t].positions[s] <= pos_q[i]) slots.push_back({&head.tiers[t], s});
      const size_t n = slots.size();
      scores.assign(n * static_cast<size_t>(group), 0.0f);

      for (int64_t h = 0; h < group; ++h) {
        const float* qr = row3<const float>(q, g * group + h, i);
        for (uint32_t d = 0; d < head_dim; ++d) q16[h * head_dim + d] = round_to_f16(qr[d]);
      }
      for (size_t s = 0; s < n; ++s) {
        const hearth_kv_slot_tier& tier = *slots[s].tier;
        const uint64_t record = hearth_kv_record_bytes(tier.bits, head_dim, group_size);
        const auto* k = static_cast<const uint8_t*>(tier.k) + record * slots[s].index;
        if (tier.bits == 16) {
          for (int64_t h = 0; h < group; ++h)
            scores[h * n + s] =
                dot_weight_row(HEARTH_DTYPE_F16, k, q16.data() + h * head_dim, head_dim) * scale;
          continue;
        }
        sdk::kv_dequantize_record(k, tier.bits, head_dim, group_size, row.data());
        for (int64_t h = 0; h < group; ++h)
          scores[h * n + s] =
              dot_f32(row3<const float>(q, g * group + h, i), row.data(), head_dim) * scale;
      }

      // Softmax per query head, as kernel_attention.cpp: float max, softmax_exp.
      for (int64_t h = 0; h < group; ++h) {
        float* sc = scores.data() + h * n;
        float max = -std::numeric_limits<float>::infinity();
        for (size_t s = 0; s < n; ++s) max = std::max(max, sc[s]);
        const double sum = softmax_exp(sc, static_cast<int64_t>(n), max);
        const float inv = n > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
        for (size_t s = 0; s < n; ++s) sc[s] *= inv;
        float* out = row3<float>(op.dst, g * group + h, i);
        std::fill(out, out + head_dim, 0.0f);
      }

      for (size_t s = 0; s < n; ++s) {
        const hearth_kv_slot_tier& tier = *slots[s].tier;
        const uint64_t record = hearth_kv_record_bytes(tier.bits, head_dim, group_size);
        const auto* v = static_cast<const uint8_t*>(tier.v) + record * slots[s].index;
        bool expanded = false;
        for (int64_t h = 0; h < group; ++h) {
          float p = scores[h * n + s];
          if (tier.bits == 16) p = round_to_f16(p);
          if (p == 0.0f) continue;
          if (!expanded) {
            if (tier.bits == 16)
              dequantize_weight_row(HEARTH_DTYPE_F16, v, row.data(), head_dim);
            else
              sdk::kv_dequantize_record(v, tier.bits, head_dim, group_size, row.data());
            expanded = true;
          }
          float* out = row3<float>(op.dst, g * group + h, i);
          for (uint32_t d = 0; d < head_dim; ++d) out[d] += p * row[d];
        }
      }

      if (!mass) continue;
      float* m = row3<float>(*mass, g, i);
      std::fill(m, m + mass->ne[0], 0.0f);
      // Slots are numbered through the tiers in order, hidden ones included (they get 0).
      size_t visible = 0;
      int64_t numbered = 0;
      for (uint32_t t = 0; t < head.n_tiers; ++t)
        for (uint32_t s = 0; s < head.tiers[t].n_slots; ++s, ++numbered) {
          if (head.tiers[t].positions[s] > pos_q[i]) continue;
          float sum = 0.0f;
          for (int64_t h = 0; h < group; ++h) sum += scores[h * n + visible];
          m[numbered] = sum;
          ++visible;
        }
    }
  });
}

}  // namespace hearth::backend_cpu

// The AVX2 grouped attention over an F16 cache (plugins/backend-cpu/attention_f16_avx2.cpp)
// against a plain per-head loop of the same numerics in double: the query rounded to F16, each
// normalized probability rounded to F16, the values summed. Head sizes cover the kernel's paths
// (64: the query in registers; multiples of 64, of 32 and of 8 for the value sums), key counts
// below and above its 8-key score batches and 32-row blocks, hidden keys, and groups of 1-8
// heads. Skipped on machines without AVX2.
#include <gtest/gtest.h>

#include <hearth/sdk/half.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "attention_f16.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

float f16_round(float x) { return sdk::fp16_to_fp32(sdk::fp32_to_fp16(x)); }

struct Case {
  int64_t head_dim;
  int n_heads;
  int64_t n_kv;
  int64_t slot_heads;  // KV heads per cache slot (the row stride)
};

TEST(AttentionF16Avx2, MatchesAPlainLoopPerHead) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case& c : {Case{64, 8, 1, 4}, Case{64, 8, 7, 4}, Case{64, 8, 77, 4},
                        Case{64, 3, 300, 1}, Case{128, 2, 45, 2}, Case{96, 4, 33, 1},
                        Case{32, 1, 9, 3}, Case{8, 5, 70, 2}, Case{24, 8, 16, 1}}) {
    SCOPED_TRACE("head_dim " + std::to_string(c.head_dim) + " heads " + std::to_string(c.n_heads) +
                 " n_kv " + std::to_string(c.n_kv));
    const int64_t dim = c.head_dim;
    const int64_t stride = c.slot_heads * dim * 2;  // bytes per slot; this head's rows first
    std::vector<uint16_t> k(static_cast<size_t>(c.n_kv * c.slot_heads * dim));
    std::vector<uint16_t> v(k.size());
    for (auto& x : k) x = sdk::fp32_to_fp16(normal(rng));
    for (auto& x : v) x = sdk::fp32_to_fp16(normal(rng));
    std::vector<float> q(static_cast<size_t>(c.n_heads * dim));
    for (auto& x : q) x = 2.0f * normal(rng);
    // Every third key hidden (but the first), as a cache with evicted or future slots.
    std::vector<int32_t> visible;
    for (int64_t j = 0; j < c.n_kv; ++j)
      if (j == 0 || j % 3 != 1) visible.push_back(static_cast<int32_t>(j));
    const float scale = 1.0f / std::sqrt(static_cast<float>(dim));

    std::vector<float> out(q.size(), -7.0f);
    F16HeadGroup g;
    g.head_dim = dim;
    g.n_heads = c.n_heads;
    for (int h = 0; h < c.n_heads; ++h)
      g.q[h] = q.data() + h * dim, g.out[h] = out.data() + h * dim;
    g.k = reinterpret_cast<const char*>(k.data());
    g.k_stride = stride;
    g.v = reinterpret_cast<const char*>(v.data());
    g.v_stride = stride;
    g.visible = visible.data();
    g.n_visible = static_cast<int64_t>(visible.size());
    g.scale = scale;
    F16AttentionScratch scratch;
    attend_f16_heads_avx2(g, scratch);

    const auto key = [&](const std::vector<uint16_t>& t, int64_t j, int64_t d) {
      return static_cast<double>(
          sdk::fp16_to_fp32(t[static_cast<size_t>(j * c.slot_heads * dim + d)]));
    };
    for (int h = 0; h < c.n_heads; ++h) {
      std::vector<double> score;
      double max = -INFINITY;
      for (int32_t j : visible) {
        double s = 0;
        for (int64_t d = 0; d < dim; ++d) s += f16_round(q[h * dim + d]) * key(k, j, d);
        score.push_back(s * scale);
        max = std::max(max, score.back());
      }
      double sum = 0;
      for (double& s : score) sum += (s = std::exp(s - max));
      for (int64_t d = 0; d < dim; ++d) {
        double want = 0, mag = 0;
        for (size_t i = 0; i < visible.size(); ++i) {
          const double p = f16_round(static_cast<float>(score[i] / sum));
          want += p * key(v, visible[i], d);
          mag += std::fabs(p * key(v, visible[i], d));
        }
        // F16 rounding of a probability may land on the other side when the float path's
        // exp differs in its last bits: one F16 ulp of the largest probability.
        EXPECT_NEAR(out[h * dim + d], want, 1e-5 * mag + 1e-3 * mag / std::sqrt(sum) + 1e-6)
            << "head " << h << " element " << d;
      }
    }
  }
}

}  // namespace
}  // namespace hearth::backend_cpu

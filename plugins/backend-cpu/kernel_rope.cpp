// ROPE in ggml's formulation (ggml_rope_cache_init + rope_yarn without YaRN): theta starts at the
// position as a float and is multiplied by base^(-2/n_rot) once per pair, each angle is
// freq_scale * theta / ff_i, and cos/sin are float. Matching this order keeps our rotations
// within float rounding of llama.cpp's at every position.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {

void run_rope(const hearth_op& op, ThreadPool& pool) {
  const hearth_tensor& x = op.src[0];
  const auto* positions = static_cast<const int32_t*>(op.src[1].data);
  const float* factors = op.n_src == 3 ? static_cast<const float*>(op.src[2].data) : nullptr;
  const int64_t head_dim = x.ne[0];
  const int64_t n_heads = x.ne[1];
  const int64_t n_rot = op.iparams[0];
  const int64_t half = n_rot / 2;
  const bool neox = op.iparams[1] == HEARTH_ROPE_NEOX;
  const float freq_scale = op.fparams[1];
  const float theta_scale = std::pow(op.fparams[0], -2.0f / static_cast<float>(n_rot));
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(head_dim * n_heads, 1));

  pool.parallel_for(x.ne[2], grain, [&](int64_t begin, int64_t end) {
    std::vector<float> cos_theta(static_cast<size_t>(half));
    std::vector<float> sin_theta(static_cast<size_t>(half));
    for (int64_t t = begin; t < end; ++t) {
      float theta = static_cast<float>(positions[t]);
      for (int64_t i = 0; i < half; ++i) {
        const float ff = factors ? factors[i] : 1.0f;
        const float angle = freq_scale * (theta / ff);
        cos_theta[i] = std::cos(angle);
        sin_theta[i] = std::sin(angle);
        theta *= theta_scale;
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        const float* in = row3<const float>(x, h, t);
        float* out = row3<float>(op.dst, h, t);
        for (int64_t i = 0; i < half; ++i) {
          const int64_t a = neox ? i : 2 * i;
          const int64_t b = neox ? i + half : 2 * i + 1;
          const float x0 = in[a];
          const float x1 = in[b];
          out[a] = x0 * cos_theta[i] - x1 * sin_theta[i];
          out[b] = x0 * sin_theta[i] + x1 * cos_theta[i];
        }
        if (out != in)
          std::memmove(out + n_rot, in + n_rot,
                       static_cast<size_t>(head_dim - n_rot) * sizeof(float));
      }
    }
  });
}

}  // namespace hearth::backend_cpu

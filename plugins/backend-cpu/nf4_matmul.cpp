#include "nf4_matmul.hpp"

#include <algorithm>
#include <vector>

#include "expanded_gemm.hpp"
#include "float_dot.hpp"
#include "nf4_kernels.hpp"
#include "quant_kernels.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

constexpr int64_t kMacsPerChunk = 32768;
// Expanded rows per tile: 8 rows of a 5632-wide matrix are 180 KB of floats, an L2's worth.
constexpr int64_t kRowTile = 8;

}  // namespace

void run_nf4_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const int64_t n_tok = row_count(x);
  if (n_out == 0 || n_tok == 0) return;
  const int64_t grain = std::max<int64_t>(1, kMacsPerChunk / std::max<int64_t>(n_in * n_tok, 1));

  if (n_tok == 1) {
    const float* x0 = flat_row<const float>(x, 0);
    float* out = flat_row<float>(op.dst, 0);
    if (cpu_has_avx512_vnni()) {
      std::vector<float> xp(static_cast<size_t>(n_in));
      nf4_pair_activations(x0, n_in, xp.data());
      pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          out[r] = dot_nf4_pairs_avx512(n_in, row_at<const char>(w, r * w.nb[1]), xp.data(), x0);
      });
      return;
    }
    pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        out[r] = nf4_dot(n_in, row_at<const char>(w, r * w.nb[1]), x0);
    });
    return;
  }

  if (n_tok >= kExpandedGemmTokens && gemm &&
      try_expanded_gemm(op, *gemm, pool, n_in, [&](int64_t r, float* out) {
        nf4_dequantize_row(row_at<const char>(w, r * w.nb[1]), out, n_in);
      }))
    return;
  const bool avx2 = cpu_has_avx2();
  pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> rows(static_cast<size_t>(kRowTile * n_in));
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t r1 = std::min(end, r0 + kRowTile);
      for (int64_t r = r0; r < r1; ++r)
        nf4_dequantize_row(row_at<const char>(w, r * w.nb[1]), rows.data() + (r - r0) * n_in, n_in);
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* xt = flat_row<const float>(x, t);
        float* out = flat_row<float>(op.dst, t);
        for (int64_t r = r0; r < r1; ++r) {
          const float* row = rows.data() + (r - r0) * n_in;
          out[r] = avx2 ? dot_f32_avx2(row, xt, n_in) : dot_f32(row, xt, n_in);
        }
      }
    }
  });
}

}  // namespace hearth::backend_cpu

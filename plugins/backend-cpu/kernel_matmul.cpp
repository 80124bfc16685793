// MATMUL: dst[n_out, n_tok] = W x. One token (decode) runs fused dot products per weight row,
// threaded over output rows; several tokens expand each weight row to F32 once and reuse it for
// every token, unless an F32Gemm provider takes the product.
#include <algorithm>
#include <cstring>
#include <vector>

#include "f32_gemm.hpp"
#include "kernels.hpp"
#include "tensor_view.hpp"
#include "thread_pool.hpp"
#include "weight_rows.hpp"

namespace hearth::backend_cpu {
namespace {

constexpr int64_t kMacsPerChunk = 32768;

// Activations and dst as row-major matrices when their tokens are evenly strided.
bool try_gemm(const hearth_op& op, F32Gemm& gemm, unsigned n_threads) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  if (x.ne[2] != 1 || x.ne[3] != 1) return false;
  const F32Matrix xm{static_cast<const float*>(x.data), x.ne[1], x.ne[0],
                     x.nb[1] / static_cast<int64_t>(sizeof(float))};
  const F32Matrix wm{static_cast<const float*>(w.data), w.ne[1], w.ne[0],
                     w.nb[1] / static_cast<int64_t>(sizeof(float))};
  const int64_t out_stride = op.dst.nb[1] / static_cast<int64_t>(sizeof(float));
  // Rows that overlap are legal views but not matrices oneDNN takes; the plain loop handles them.
  if (xm.stride < xm.cols || wm.stride < wm.cols || out_stride < wm.rows) return false;
  return gemm.multiply(xm, wm, static_cast<float*>(op.dst.data), out_stride, n_threads);
}

}  // namespace

void run_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const int64_t n_in = w.ne[0];
  const int64_t n_out = w.ne[1];
  const int64_t n_tok = row_count(x);
  if (n_out == 0 || n_tok == 0) return;
  const int64_t grain = std::max<int64_t>(1, kMacsPerChunk / std::max<int64_t>(n_in, 1));
  const auto weight_row = [&w](int64_t r) { return row_at<const char>(w, r * w.nb[1]); };

  if (n_tok == 1) {
    const float* xr = flat_row<const float>(x, 0);
    float* yr = flat_row<float>(op.dst, 0);
    pool.parallel_for(n_out, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        yr[r] = dot_weight_row(w.dtype, weight_row(r), xr, n_in);
    });
    return;
  }
  if (gemm && w.dtype == HEARTH_DTYPE_F32 && n_in > 0 && try_gemm(op, *gemm, pool.size())) return;

  pool.parallel_for(n_out, std::max<int64_t>(1, grain / n_tok), [&](int64_t begin, int64_t end) {
    std::vector<float> expanded(w.dtype == HEARTH_DTYPE_F32 ? 0 : static_cast<size_t>(n_in));
    for (int64_t r = begin; r < end; ++r) {
      const float* wr = reinterpret_cast<const float*>(weight_row(r));
      if (w.dtype != HEARTH_DTYPE_F32) {
        dequantize_weight_row(w.dtype, weight_row(r), expanded.data(), n_in);
        wr = expanded.data();
      }
      for (int64_t t = 0; t < n_tok; ++t)
        flat_row<float>(op.dst, t)[r] = dot_f32(wr, flat_row<const float>(x, t), n_in);
    }
  });
}

}  // namespace hearth::backend_cpu

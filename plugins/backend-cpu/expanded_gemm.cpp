#include "expanded_gemm.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

namespace hearth::backend_cpu {
namespace {

// Rows expanded per GEMM call: 64 rows of the widest TinyLlama/7B input (5632 / 11008 floats)
// are 1.4 / 2.8 MB, written once and read by the GEMM while still in L2/L3.
constexpr int64_t kExpandedRows = 64;

}  // namespace

bool try_expanded_gemm(const hearth_op& op, F32Gemm& gemm, ThreadPool& pool, int64_t row_floats,
                       const std::function<void(int64_t, float*)>& expand) {
  const hearth_tensor& x = op.src[1];
  if (x.ne[2] != 1 || x.ne[3] != 1 || x.nb[0] != sizeof(float)) return false;
  const int64_t n_in = x.ne[0], n_out = op.dst.ne[0];
  const F32Matrix xm{static_cast<const float*>(x.data), x.ne[1], n_in,
                     x.nb[1] / static_cast<int64_t>(sizeof(float))};
  const int64_t out_stride = op.dst.nb[1] / static_cast<int64_t>(sizeof(float));
  if (xm.stride < n_in || out_stride < n_out || row_floats < n_in ||
      op.dst.nb[0] != sizeof(float) || op.dst.ne[2] != 1 || op.dst.ne[3] != 1)
    return false;
  std::atomic<bool> all_done{true};
  pool.parallel_for(n_out, kExpandedRows, [&](int64_t begin, int64_t end) {
    std::vector<float> rows(static_cast<size_t>(std::min(kExpandedRows, end - begin) * row_floats));
    for (int64_t r0 = begin; r0 < end && all_done.load(std::memory_order_relaxed);
         r0 += kExpandedRows) {
      const int64_t r1 = std::min(end, r0 + kExpandedRows);
      for (int64_t r = r0; r < r1; ++r) expand(r, rows.data() + (r - r0) * row_floats);
      const F32Matrix slice{rows.data(), r1 - r0, n_in, row_floats};
      if (!gemm.multiply(xm, slice, static_cast<float*>(op.dst.data) + r0, out_stride, 1))
        all_done.store(false);
    }
  });
  return all_done.load();
}

}  // namespace hearth::backend_cpu

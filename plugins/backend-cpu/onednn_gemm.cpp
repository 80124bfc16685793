// F32Gemm on oneDNN's matmul primitive. Built only with HEARTH_BACKEND_CPU_ONEDNN.
#include <oneapi/dnnl/dnnl.hpp>

#include <atomic>

#include "f32_gemm.hpp"

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

namespace hearth::backend_cpu {
namespace {

// oneDNN's OpenMP runtime takes its team size from the calling thread's nthreads ICV; set it to
// the device's thread count for the call and restore the caller's value afterwards.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope([[maybe_unused]] unsigned n_threads) {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
    saved_ = omp_get_max_threads();
    omp_set_num_threads(static_cast<int>(n_threads));
#endif
  }
  ~OmpThreadsScope() {
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
    omp_set_num_threads(saved_);
#endif
  }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  [[maybe_unused]] int saved_ = 1;
};

class OneDnnGemm final : public F32Gemm {
 public:
  explicit OneDnnGemm(std::function<void(const std::string&)> warn) : warn_(std::move(warn)) {}

  bool multiply(const F32Matrix& x, const F32Matrix& w, float* out, int64_t out_stride,
                unsigned n_threads) override {
    if (broken_.load()) return false;
    try {
      run(x, w, out, out_stride, n_threads);
      return true;
    } catch (const dnnl::error& e) {
      if (broken_.exchange(true)) return false;  // warn once
      if (warn_)
        warn_(std::string("cpu: oneDNN matmul failed (") + e.what() +
              "); using the plain matmul loop from now on");
      return false;
    }
  }

  std::string name() const override { return "oneDNN"; }

 private:
  void run(const F32Matrix& x, const F32Matrix& w, float* out, int64_t out_stride,
           unsigned n_threads) {
    using dims = dnnl::memory::dims;
    constexpr auto f32 = dnnl::memory::data_type::f32;
    // x [M, K] row-major; w [N, K] row-major read as the K x N weights matrix; out [M, N].
    const dnnl::memory::desc src_md(dims{x.rows, x.cols}, f32, dims{x.stride, 1});
    const dnnl::memory::desc weights_md(dims{w.cols, w.rows}, f32, dims{1, w.stride});
    const dnnl::memory::desc dst_md(dims{x.rows, w.rows}, f32, dims{out_stride, 1});
#if DNNL_VERSION_MAJOR >= 3
    const dnnl::matmul::primitive_desc pd(engine_, src_md, weights_md, dst_md);
#else
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, weights_md, dst_md), engine_);
#endif
    const dnnl::matmul matmul(pd);
    dnnl::memory src(src_md, engine_, const_cast<float*>(x.data));
    dnnl::memory weights(weights_md, engine_, const_cast<float*>(w.data));
    dnnl::memory dst(dst_md, engine_, out);
    const OmpThreadsScope threads(n_threads);
    dnnl::stream stream(engine_);  // one per call: callers run concurrently on pool threads
    matmul.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
    stream.wait();
  }

  std::function<void(const std::string&)> warn_;
  std::atomic<bool> broken_{false};
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
};

}  // namespace

std::unique_ptr<F32Gemm> make_onednn_gemm(std::function<void(const std::string&)> warn) {
  return std::make_unique<OneDnnGemm>(std::move(warn));
}

bool onednn_available() { return true; }

}  // namespace hearth::backend_cpu

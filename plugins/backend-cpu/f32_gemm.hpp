// An optional provider of F32 matrix products for prompt processing (several tokens at once).
// oneDNN implements it when the build has HEARTH_BACKEND_CPU_ONEDNN; the plain loop in
// kernel_matmul.cpp is the fallback and the reference it is tested against.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace hearth::backend_cpu {

// Row-major views: row i of a matrix starts at data + i * stride (in floats).
struct F32Matrix {
  const float* data;
  int64_t rows;
  int64_t cols;
  int64_t stride;
};

class F32Gemm {
 public:
  virtual ~F32Gemm() = default;
  // out[t][o] = sum_i x[t][i] * w[o][i] for x [n_tok, n_in], w [n_out, n_in]; out has
  // x.rows rows of w.rows floats, row t at out + t * out_stride. Returns false (and leaves out
  // unspecified) if the provider could not run it; the caller then uses the plain loop.
  // Safe to call from several threads at once (the pool gives each a slice of w).
  virtual bool multiply(const F32Matrix& x, const F32Matrix& w, float* out, int64_t out_stride,
                        unsigned n_threads) = 0;
  virtual std::string name() const = 0;
};

// The oneDNN provider, or null when this build has none. warn is called (once) if oneDNN fails
// at run time, after which the plain loop takes over.
std::unique_ptr<F32Gemm> make_onednn_gemm(std::function<void(const std::string&)> warn);
bool onednn_available();

}  // namespace hearth::backend_cpu

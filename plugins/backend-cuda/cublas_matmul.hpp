// The prefill route of MATMUL (CUDA builds only): cuBLAS loaded with dlopen at device open, so
// the plugin keeps loading on machines without it. A weight that cuBLAS cannot read in place is
// decoded to F16 (BF16 for BF16 weights) in device scratch, the activations are rounded to the
// same type, and cublasGemmEx multiplies them on the tensor cores with F32 accumulation,
// writing F32 straight into dst. F32 weights stay in plain FP32 (no TF32).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "dequantize_f16.hpp"
#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// How one MATMUL maps onto a column-major GEMM: dst (m x n, ldc) = W^T (m x k) * X (k x n).
struct CublasMatmulPlan {
  GemmElement element;       // CS256: F16; run() switches to BF16 for BF16 values
  bool dequantize_weight;    // weight decoded into scratch (lda = k), else read in place
  bool convert_activations;  // activations copied into scratch after the weight, else in place
  int m, n, k;               // n_out, n_tok, n_in
  int lda, ldb, ldc;
  uint64_t weight_scratch_bytes;      // rounded up to kScratchAlignment
  uint64_t activation_scratch_bytes;  // follows the weight's part
  uint64_t scratch_bytes() const { return weight_scratch_bytes + activation_scratch_bytes; }
};

// nullopt when the op's layout has no GEMM form (rows of dst or activations without one stride,
// F32 weight rows closer than a row, sizes past int) or its weight type is not decodable here;
// the built-in kernel takes those.
std::optional<CublasMatmulPlan> plan_cublas_matmul(const hearth_op& op);

// What failed in CublasMatmul::run: a runtime error (a kernel launch) or a cuBLAS status.
struct CublasRunError {
  const char* stage;
  std::string detail;
};

class CublasMatmul {
 public:
  // Loads libcublas and makes a handle that queues on stream; nullptr with why_not set when it
  // cannot (library missing, symbols missing, handle creation failed).
  static std::unique_ptr<CublasMatmul> open(cudaStream_t stream, std::string& why_not);
  ~CublasMatmul();
  CublasMatmul(const CublasMatmul&) = delete;
  CublasMatmul& operator=(const CublasMatmul&) = delete;

  // The file dlopen found, e.g. "libcublas.so.13".
  const char* library_name() const { return library_name_; }

  // Gives cuBLAS a workspace we own (it otherwise allocates its own, outside our accounting);
  // false when this libcublas cannot take one.
  bool set_workspace(void* workspace, uint64_t bytes);

  // Queues the plan's steps on the stream; scratch holds plan.scratch_bytes() bytes. Returns the
  // first failure, or nullopt when everything was queued. The first run with a CS256 weight
  // reads its blob's header back (one stream synchronization) for the value type.
  std::optional<CublasRunError> run(const hearth_op& op, const CublasMatmulPlan& plan,
                                    void* scratch);

  // Forgets what run() learned about CS256 weights in [base, base + bytes): the device calls it
  // when it frees that memory, so a later weight at the same address is read afresh.
  void forget_weights(const void* base, uint64_t bytes) noexcept;

  // The workspace size NVIDIA recommends for Hopper.
  static constexpr uint64_t kWorkspaceBytes = uint64_t{32} << 20;

 private:
  struct Library;
  CublasMatmul(std::unique_ptr<Library> library, cudaStream_t stream);
  // The GEMM element of CS256 weight w: BF16 when its values are BF16 (F16 would overflow their
  // range), else F16 (F16 and int8-times-scale values).
  std::optional<CublasRunError> cs256_element(const hearth_tensor& w, GemmElement& element);

  std::unique_ptr<Library> library_;
  cudaStream_t stream_;
  const char* library_name_ = "";
  // CS256 weights' GEMM elements by blob address; the value type lives in the blob's header on
  // the device, so each is read back once.
  std::unordered_map<const void*, GemmElement> cs256_elements_;
};

inline constexpr uint64_t kScratchAlignment = 256;

}  // namespace hearth::backend_gpu

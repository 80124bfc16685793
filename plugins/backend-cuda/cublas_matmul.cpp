#include "cublas_matmul.hpp"

// Types and prototypes only: every entry point is looked up with dlsym.
#include <cublas_api.h>
#include <dlfcn.h>

#include <climits>
#include <string>

#include "tensor_view.hpp"

namespace hearth::backend_gpu {
namespace {

// cublas_api.h also declares C++ overloads of cublasGemmEx, so spell out the C entry point.
using GemmExFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                    int, const void*, const void*, cudaDataType, int, const void*,
                                    cudaDataType, int, const void*, void*, cudaDataType, int,
                                    cublasComputeType_t, cublasGemmAlgo_t);

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

uint64_t round_up(uint64_t bytes) {
  return (bytes + kScratchAlignment - 1) / kScratchAlignment * kScratchAlignment;
}

int64_t element_bytes(GemmElement e) { return e == GemmElement::f32 ? 4 : 2; }

cudaDataType data_type(GemmElement e) {
  switch (e) {
    case GemmElement::f16:
      return CUDA_R_16F;
    case GemmElement::bf16:
      return CUDA_R_16BF;
    case GemmElement::f32:
      break;
  }
  return CUDA_R_32F;
}

// The one byte stride between consecutive flat rows (i1 fastest, as the kernels count them), or
// nullopt when dims 2 and 3 do not continue dim 1's stride. A single row has stride row_bytes.
std::optional<int64_t> uniform_row_stride(const hearth_tensor& t, int64_t row_bytes) {
  std::optional<int64_t> stride;
  int64_t rows_before = 1;
  for (int d = 1; d < HEARTH_MAX_DIMS; ++d) {
    if (t.ne[d] == 1) continue;
    if (!stride)
      stride = t.nb[d];
    else if (t.nb[d] != *stride * rows_before)
      return std::nullopt;
    rows_before *= t.ne[d];
  }
  return stride.value_or(row_bytes);
}

// A leading dimension (in elements) for rows of n elements of elem bytes at byte stride, or
// nullopt when cuBLAS cannot take it (rows overlapping, not a whole number of elements, past int).
std::optional<int> leading_dimension(int64_t stride, int64_t elem, int64_t n) {
  if (stride % elem != 0 || stride / elem < n || !fits_int(stride / elem)) return std::nullopt;
  return static_cast<int>(stride / elem);
}

bool decodable(uint32_t dtype) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
    case HEARTH_DTYPE_F16:
    case HEARTH_DTYPE_BF16:
    case HEARTH_DTYPE_Q8_0:
    case HEARTH_DTYPE_Q4_0:
    case HEARTH_DTYPE_Q5_0:
    case HEARTH_DTYPE_Q4_K:
    case HEARTH_DTYPE_Q5_K:
    case HEARTH_DTYPE_Q6_K:
    case HEARTH_DTYPE_NF4:
    case HEARTH_DTYPE_CS256:
      return true;
    default:
      return false;
  }
}

// NF4 weights are decoded for the GEMM by the standalone dequantizer, which reads the matrix as
// one run of 4-byte-aligned 36-byte blocks.
bool nf4_rows_back_to_back(const hearth_tensor& w) {
  constexpr int64_t kBlockElems = 64, kBlockBytes = 36;
  if (w.ne[0] % kBlockElems != 0 || reinterpret_cast<uintptr_t>(w.data) % 4 != 0) return false;
  return w.ne[1] == 1 || w.nb[1] == w.ne[0] / kBlockElems * kBlockBytes;
}

// CS256 weights are decoded with 8-entry vector loads from the blob, as the sparse kernels read
// it (launch_cs256_matmul refuses other pointers too).
bool cs256_blob_aligned(const hearth_tensor& w) {
  return reinterpret_cast<uintptr_t>(w.data) % 16 == 0;
}

}  // namespace

std::optional<CublasMatmulPlan> plan_cublas_matmul(const hearth_op& op) {
  const hearth_tensor& w = op.src[0];
  const hearth_tensor& x = op.src[1];
  const hearth_tensor& dst = op.dst;
  if (!decodable(w.dtype)) return std::nullopt;
  if (w.dtype == HEARTH_DTYPE_NF4 && !nf4_rows_back_to_back(w)) return std::nullopt;
  if (w.dtype == HEARTH_DTYPE_CS256 && !cs256_blob_aligned(w)) return std::nullopt;
  const int64_t n_in = w.ne[0], n_out = w.ne[1], n_tok = row_count(x);
  if (n_in == 0 || n_out == 0 || n_tok == 0) return std::nullopt;
  if (!fits_int(n_in) || !fits_int(n_out) || !fits_int(n_tok)) return std::nullopt;

  CublasMatmulPlan plan{};
  plan.m = static_cast<int>(n_out);
  plan.n = static_cast<int>(n_tok);
  plan.k = static_cast<int>(n_in);
  plan.element = w.dtype == HEARTH_DTYPE_F32    ? GemmElement::f32
                 : w.dtype == HEARTH_DTYPE_BF16 ? GemmElement::bf16
                                                : GemmElement::f16;
  const int64_t elem = element_bytes(plan.element);

  const auto dst_stride = uniform_row_stride(dst, n_out * 4);
  const auto ldc = dst_stride ? leading_dimension(*dst_stride, 4, n_out) : std::nullopt;
  if (!ldc) return std::nullopt;
  plan.ldc = *ldc;

  const bool plain =
      w.dtype == HEARTH_DTYPE_F32 || w.dtype == HEARTH_DTYPE_F16 || w.dtype == HEARTH_DTYPE_BF16;
  const auto lda =
      plain ? leading_dimension(n_out == 1 ? n_in * elem : w.nb[1], elem, n_in) : std::nullopt;
  if (lda) {
    plan.lda = *lda;
  } else if (plan.element == GemmElement::f32) {
    return std::nullopt;  // F32 rows the GEMM cannot stride over: the kernel reads them as they are
  } else {
    plan.dequantize_weight = true;
    plan.lda = plan.k;
    plan.weight_scratch_bytes = round_up(static_cast<uint64_t>(n_out * n_in * elem));
  }

  const auto x_stride = uniform_row_stride(x, n_in * 4);
  const auto ldb = plan.element == GemmElement::f32 && x_stride
                       ? leading_dimension(*x_stride, 4, n_in)
                       : std::nullopt;
  if (ldb) {
    plan.ldb = *ldb;
  } else {
    plan.convert_activations = true;
    plan.ldb = plan.k;
    plan.activation_scratch_bytes = round_up(static_cast<uint64_t>(n_tok * n_in * elem));
  }
  return plan;
}

struct CublasMatmul::Library {
  void* dl = nullptr;
  cublasHandle_t handle = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetWorkspace_v2) set_workspace = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
  GemmExFn gemm_ex = nullptr;

  Library() = default;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() {
    if (handle && destroy) static_cast<void>(destroy(handle));
    if (dl) dlclose(dl);
  }
  template <class Fn>
  Fn symbol(const char* name) const {
    return reinterpret_cast<Fn>(dlsym(dl, name));
  }
};

std::unique_ptr<CublasMatmul> CublasMatmul::open(cudaStream_t stream, std::string& why_not) {
  auto lib = std::make_unique<Library>();
  const char* found = nullptr;
  std::string dl_errors;
  for (const char* name : {"libcublas.so.13", "libcublas.so"}) {
    lib->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib->dl) {
      found = name;
      break;
    }
    const char* err = dlerror();
    dl_errors += std::string(dl_errors.empty() ? "" : "; ") + (err ? err : name);
  }
  if (!found) {
    why_not = "libcublas could not be loaded (" + dl_errors + ")";
    return nullptr;
  }
  const auto create = lib->symbol<decltype(&cublasCreate_v2)>("cublasCreate_v2");
  const auto set_stream = lib->symbol<decltype(&cublasSetStream_v2)>("cublasSetStream_v2");
  lib->destroy = lib->symbol<decltype(&cublasDestroy_v2)>("cublasDestroy_v2");
  lib->gemm_ex = lib->symbol<GemmExFn>("cublasGemmEx");
  lib->set_workspace = lib->symbol<decltype(&cublasSetWorkspace_v2)>("cublasSetWorkspace_v2");
  lib->status_string = lib->symbol<decltype(&cublasGetStatusString)>("cublasGetStatusString");
  if (!create || !set_stream || !lib->destroy || !lib->gemm_ex) {
    why_not = std::string(found) +
              " lacks cublasCreate_v2, cublasSetStream_v2, cublasDestroy_v2 or cublasGemmEx";
    return nullptr;
  }
  if (const cublasStatus_t st = create(&lib->handle); st != CUBLAS_STATUS_SUCCESS) {
    lib->handle = nullptr;
    why_not = std::string("cublasCreate failed with status ") + std::to_string(st);
    return nullptr;
  }
  // Every GEMM queues behind the ops before it on the device's one stream; nothing syncs.
  if (const cublasStatus_t st = set_stream(lib->handle, stream); st != CUBLAS_STATUS_SUCCESS) {
    why_not = std::string("cublasSetStream failed with status ") + std::to_string(st);
    return nullptr;
  }
  std::unique_ptr<CublasMatmul> out(new CublasMatmul(std::move(lib), stream));
  out->library_name_ = found;
  return out;
}

CublasMatmul::CublasMatmul(std::unique_ptr<Library> library, cudaStream_t stream)
    : library_(std::move(library)), stream_(stream) {}

CublasMatmul::~CublasMatmul() = default;

bool CublasMatmul::set_workspace(void* workspace, uint64_t bytes) {
  return library_->set_workspace &&
         library_->set_workspace(library_->handle, workspace, bytes) == CUBLAS_STATUS_SUCCESS;
}

std::optional<CublasRunError> CublasMatmul::cs256_element(const hearth_tensor& w,
                                                          GemmElement& element) {
  if (const auto known = cs256_elements_.find(w.data); known != cs256_elements_.end()) {
    element = known->second;
    return std::nullopt;
  }
  element = GemmElement::f16;
  // A stream being captured into a graph (HEARTH_CUDA_GRAPHS=1) cannot be waited on: the weight
  // is decoded to F16 this time (BF16 values round to F16 exactly within its range) and read
  // again outside a capture.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream_, &capture) != cudaSuccess ||
      capture != cudaStreamCaptureStatusNone) {
    static_cast<void>(cudaGetLastError());
    return std::nullopt;
  }
  hearth_cs256_header header{};
  cudaError_t st = cudaMemcpyAsync(&header, w.data, sizeof header, cudaMemcpyDeviceToHost, stream_);
  if (st == cudaSuccess) st = cudaStreamSynchronize(stream_);
  if (st != cudaSuccess)
    return CublasRunError{"reading the CS256 weight's header", cudaGetErrorString(st)};
  // A header the decoder rejects gives NaN rows whichever type they have.
  if (header.value_dtype == HEARTH_DTYPE_BF16) element = GemmElement::bf16;
  cs256_elements_.emplace(w.data, element);
  return std::nullopt;
}

void CublasMatmul::forget_weights(const void* base, uint64_t bytes) noexcept {
  const auto begin = reinterpret_cast<uintptr_t>(base);
  std::erase_if(cs256_elements_, [&](const auto& entry) {
    const auto at = reinterpret_cast<uintptr_t>(entry.first);
    return at >= begin && at - begin < bytes;
  });
}

std::optional<CublasRunError> CublasMatmul::run(const hearth_op& op, const CublasMatmulPlan& plan,
                                                void* scratch) {
  auto* bytes = static_cast<char*>(scratch);
  const void* w = op.src[0].data;
  const void* x = op.src[1].data;
  GemmElement element = plan.element;
  if (op.src[0].dtype == HEARTH_DTYPE_CS256)
    if (auto error = cs256_element(op.src[0], element)) return error;
  if (plan.dequantize_weight) {
    if (const cudaError_t st = launch_dequantize_weight(op.src[0], bytes, element, stream_);
        st != cudaSuccess)
      return CublasRunError{"decoding the weight to half precision", cudaGetErrorString(st)};
    w = bytes;
  }
  if (plan.convert_activations) {
    void* out = bytes + plan.weight_scratch_bytes;
    if (const cudaError_t st = launch_convert_activations(op.src[1], out, element, stream_);
        st != cudaSuccess)
      return CublasRunError{"rounding the activations", cudaGetErrorString(st)};
    x = out;
  }
  const float one = 1.0f, zero = 0.0f;
  const cudaDataType in_type = data_type(element);
  const cublasStatus_t st =
      library_->gemm_ex(library_->handle, CUBLAS_OP_T, CUBLAS_OP_N, plan.m, plan.n, plan.k, &one, w,
                        in_type, plan.lda, x, in_type, plan.ldb, &zero, op.dst.data, CUDA_R_32F,
                        plan.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st == CUBLAS_STATUS_SUCCESS) return std::nullopt;
  return CublasRunError{"cublasGemmEx", library_->status_string
                                            ? std::string(library_->status_string(st))
                                            : "status " + std::to_string(st)};
}

}  // namespace hearth::backend_gpu

#include "gpu_device.hpp"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "backend_name.hpp"
#include "dtype_info.hpp"
#include "kernels.hpp"
#if !defined(HEARTH_GPU_HIP)
#include "nf4_gemv_tma.hpp"
#endif
#include "op_validation.hpp"
#include "tensor_view.hpp"

namespace hearth::backend_gpu {
namespace {

using sdk::PluginError;

// Left free for the runtime's own needs (kernel launches, module loading) when accounting.
constexpr uint64_t kHeadroomBytes = uint64_t{64} << 20;
// cudaMalloc's alignment; a zero-byte request still gets a distinct pointer.
constexpr uint64_t kMinAllocation = 256;

#if !defined(HEARTH_GPU_HIP)
// Below this many tokens the built-in kernel, which reads each weight byte once in place, beats
// decoding the weight to F16 before the GEMM. gemm_bench on an H200 (Llama-2-7B layer shapes,
// Q4_K): a layer's seven matmuls take 241 us by kernel vs 364 us by cuBLAS at 4 tokens, 422 vs
// 365 us at 8. Re-measure when the kernel changes.
constexpr int64_t kDefaultCublasMinTokens = 8;
constexpr const char* kCublasMinTokensVariable = "HEARTH_CUDA_CUBLAS_MIN_TOKENS";
#endif

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

// What check_op_data checks, without building its messages: null data, misaligned plain types.
bool data_pointer_usable(const hearth_tensor& t) {
  if (element_count(t) == 0) return true;
  if (t.data == nullptr) return false;
  const DtypeLayout layout = dtype_layout(t.dtype);
  return layout.block_elems != 1 ||
         reinterpret_cast<uintptr_t>(t.data) % static_cast<uintptr_t>(layout.block_bytes) == 0;
}

bool data_pointers_usable(const hearth_op& op) {
  if (!data_pointer_usable(op.dst)) return false;
  for (uint32_t i = 0; i < op.n_src; ++i)
    if (!data_pointer_usable(op.src[i])) return false;
  return true;
}

}  // namespace

void check_runtime(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  throw PluginError(HEARTH_ERR_DEVICE, what + " failed: " + cudaGetErrorString(status) + " (" +
                                           cudaGetErrorName(status) + ")");
}

// ------------------------------------------------------------------ CheckedOpCache

CheckedOpCache::CheckedOpCache() : entries_(kEntries) {}

hearth_op CheckedOpCache::key_of(const hearth_op& op) {
  hearth_op key;
  std::memcpy(&key, &op, sizeof key);  // bytewise, so padding compares as the host wrote it
  key.dst.data = nullptr;
  for (auto& src : key.src) src.data = nullptr;
  return key;
}

size_t CheckedOpCache::slot_of(const hearth_op& key) {
  // FNV-1a over the descriptor's 8-byte words: a byte at a time cost ~1 us per op (700 bytes).
  static_assert(sizeof(hearth_op) % sizeof(uint64_t) == 0);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof key; i += sizeof(uint64_t)) {
    uint64_t word = 0;
    std::memcpy(&word, reinterpret_cast<const unsigned char*>(&key) + i, sizeof word);
    h = (h ^ word) * 1099511628211ull;
  }
  h ^= h >> 29;  // fold the high bits in: the multiply leaves the low ones weakly mixed
  return static_cast<size_t>(h % kEntries);
}

bool CheckedOpCache::contains(const hearth_op& op) const {
  const hearth_op key = key_of(op);
  const Entry& e = entries_[slot_of(key)];
  return e.used && std::memcmp(&e.key, &key, sizeof key) == 0;
}

void CheckedOpCache::remember(const hearth_op& op) {
  const hearth_op key = key_of(op);
  Entry& e = entries_[slot_of(key)];
  e.used = true;
  std::memcpy(&e.key, &key, sizeof key);
}

// ------------------------------------------------------------------ GpuDevice

GpuDevice::GpuDevice(const hearth_host_api* host, int index) : host_(host), index_(index) {
  check_runtime(cudaSetDevice(index_), name() + ": selecting the device");
  check_runtime(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                name() + ": creating a stream");
  cudaDeviceProp properties{};
  check_runtime(cudaGetDeviceProperties(&properties, index_), name() + ": reading properties");
  sm_count_ = properties.multiProcessorCount;
#if !defined(HEARTH_GPU_HIP)
  // Optional: without it, NF4 matmuls take the portable kernels (try_launch_nf4_gemv_tma falls
  // back when its launch is refused), so a failure is told, not fatal.
  if (const cudaError_t err = prepare_nf4_gemv_tma(); err != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    log(HEARTH_LOG_WARN, name() + ": the sm_90 NF4 GEMV is off (" + cudaGetErrorString(err) +
                             "); NF4 matmuls use the portable kernels");
  }
  open_cublas();
#endif
}

float* GpuDevice::attention_scratch(uint64_t bytes) {
  if (bytes == 0) return nullptr;
  if (attention_scratch_bytes_ < bytes) {
    if (attention_scratch_) free(attention_scratch_);
    attention_scratch_ = nullptr;
    attention_scratch_bytes_ = 0;
    attention_scratch_ = alloc(bytes);
    attention_scratch_bytes_ = bytes;
  }
  return static_cast<float*>(attention_scratch_);
}

void* GpuDevice::matmul_scratch(uint64_t bytes) {
  if (bytes == 0) return nullptr;
  if (matmul_scratch_bytes_ >= bytes) return matmul_scratch_;
  // free() waits for queued work that may still read the old buffer.
  if (matmul_scratch_) free(matmul_scratch_);
  matmul_scratch_ = nullptr;
  matmul_scratch_bytes_ = 0;
  try {
    matmul_scratch_ = alloc(bytes);
  } catch (const PluginError& e) {
    if (e.code() != HEARTH_ERR_OUT_OF_MEMORY) throw;
    if (!told_matmul_scratch_failure_)
      log(HEARTH_LOG_WARN, name() + ": no room for the MATMUL activation scratch (" + e.what() +
                               "); quantized decode matmuls use the slower float kernel");
    told_matmul_scratch_failure_ = true;
    return nullptr;
  }
  matmul_scratch_bytes_ = bytes;
  return matmul_scratch_;
}

GpuDevice::~GpuDevice() {
  // Errors here have no one to go to: the device is being closed either way.
  static_cast<void>(cudaSetDevice(index_));
  try {
    graph_.flush(stream_);
  } catch (const PluginError&) {
    graph_.abandon(stream_);
  }
  if (stream_) static_cast<void>(cudaStreamSynchronize(stream_));
  profile_.report(name());
#if !defined(HEARTH_GPU_HIP)
  cublas_.reset();  // its handle uses the stream and the workspace below
#endif
  for (auto& [ptr, bytes] : allocations_) static_cast<void>(cudaFree(ptr));
  if (stream_) static_cast<void>(cudaStreamDestroy(stream_));
}

std::string GpuDevice::name() const {
  return std::string(kBackendName) + ":" + std::to_string(index_);
}

void GpuDevice::log(hearth_log_level level, const std::string& message) const {
  if (host_ && host_->log) host_->log(host_, level, kBackendName, message.c_str());
}

void* GpuDevice::alloc(uint64_t bytes) {
  std::lock_guard lock(allocations_mutex_);
  graph_.flush(stream_);  // work captured so far may use buffers freed or grown after this
  check_runtime(cudaSetDevice(index_), name() + ": selecting the device");
  size_t free_bytes = 0, total_bytes = 0;
  check_runtime(cudaMemGetInfo(&free_bytes, &total_bytes), name() + ": reading free memory");
  const uint64_t request = bytes < kMinAllocation ? kMinAllocation : bytes;
  if (request > free_bytes || free_bytes - request < kHeadroomBytes)
    throw PluginError(HEARTH_ERR_OUT_OF_MEMORY,
                      name() + ": cannot allocate " + std::to_string(bytes) + " bytes (" +
                          mib(bytes) + "): " + std::to_string(free_bytes) + " bytes (" +
                          mib(free_bytes) + ") of " + mib(total_bytes) + " are free, " +
                          mib(kHeadroomBytes) + " stay reserved for the runtime, and this " +
                          "backend already holds " + mib(held_bytes_) +
                          "; place fewer layers on this device or use a smaller model");
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, request);
  if (status != cudaSuccess) {
    static_cast<void>(
        cudaGetLastError());  // clear it: an allocation failure must not poison later launches
    throw PluginError(HEARTH_ERR_OUT_OF_MEMORY,
                      name() + ": cudaMalloc of " + std::to_string(bytes) + " bytes failed (" +
                          cudaGetErrorString(status) + ") with " + mib(free_bytes) + " free");
  }
  allocations_.emplace(ptr, request);
  held_bytes_ += request;
  return ptr;
}

void GpuDevice::free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  std::lock_guard lock(allocations_mutex_);
  auto it = allocations_.find(ptr);
  if (it == allocations_.end()) {
    log(HEARTH_LOG_ERROR, name() +
                              ": free() of a pointer this device did not allocate (or freed "
                              "twice); ignored");
    return;
  }
  quantized_input_.forget();  // the memory may come back as another buffer
#if !defined(HEARTH_GPU_HIP)
  if (cublas_) cublas_->forget_weights(ptr, it->second);  // so may a CS256 weight's address
#endif
  // Work queued on the stream (or captured, not yet launched) may still read the buffer.
  try {
    graph_.flush(stream_);
  } catch (const PluginError& e) {
    log(HEARTH_LOG_ERROR, name() + ": " + e.what() + "; the captured work is dropped");
    graph_.abandon(stream_);
  }
  static_cast<void>(cudaStreamSynchronize(stream_));
  if (cudaFree(ptr) != cudaSuccess)
    log(HEARTH_LOG_ERROR, name() + ": cudaFree failed (an earlier kernel may have faulted)");
  held_bytes_ -= it->second;
  allocations_.erase(it);
}

void GpuDevice::copy(void* dst, const void* src, uint64_t bytes, const char* what) {
  if (bytes == 0) return;
  if (dst == nullptr || src == nullptr)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      name() + ": " + what + " of " + std::to_string(bytes) +
                          " bytes with a null " + (dst == nullptr ? "destination" : "source"));
  graph_.flush(stream_);
  // cudaMemcpyDefault: unified addressing tells host from device pointers. The caller may reuse
  // its host buffer as soon as we return, so the copy completes first.
  if (const cudaError_t st = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_);
      st != cudaSuccess)
    check_runtime(st, name() + ": " + what + " of " + std::to_string(bytes) + " bytes");
  if (const cudaError_t st = cudaStreamSynchronize(stream_); st != cudaSuccess)
    check_runtime(st, name() + ": " + what);
}

void GpuDevice::copy_to_device(void* dst, const void* src, uint64_t bytes) {
  quantized_input_.forget();  // the copy may write over the activations it holds
#if !defined(HEARTH_GPU_HIP)
  if (cublas_) cublas_->forget_weights(dst, bytes);  // or over a CS256 weight's header
#endif
  copy(dst, src, bytes, "copy_to_device");
}

void GpuDevice::copy_to_host(void* dst, const void* src, uint64_t bytes) {
  copy(dst, src, bytes, "copy_to_host");
}

void GpuDevice::synchronize() {
  graph_.flush(stream_);
  if (const cudaError_t st = cudaStreamSynchronize(stream_); st != cudaSuccess)
    check_runtime(st, name() + ": synchronize (an earlier kernel)");
}

std::optional<std::string> GpuDevice::unsupported_reason(const hearth_op& op) const {
  if (auto reason = check_op(op)) return reason;
  if (raw_kind(op) == HEARTH_OP_ATTENTION && op.src[0].ne[0] > kMaxAttentionHeadDim)
    return std::string(kBackendName) + ": ATTENTION: head_dim " + std::to_string(op.src[0].ne[0]) +
           " is larger than the " + std::to_string(kMaxAttentionHeadDim) +
           " this backend's attention kernel holds per head";
  if (raw_kind(op) == HEARTH_OP_ATTENTION_SLOTS) return SlotAttention::unsupported_reason(op);
  return std::nullopt;
}

void GpuDevice::validate(const hearth_op& op) {
  // check_op builds its messages as it goes, so a descriptor seen before skips it; one that
  // fails is never remembered and is checked (and refused) again every time.
  if (!checked_ops_.contains(op)) {
    if (auto reason = unsupported_reason(op)) throw PluginError(HEARTH_ERR_UNSUPPORTED, *reason);
    checked_ops_.remember(op);
  }
  if (!data_pointers_usable(op)) check_op_data(op);  // throws, saying which pointer and why
}

void GpuDevice::check_launch(cudaError_t status, const hearth_op& op) const {
  if (status != cudaSuccess)
    check_runtime(status, name() + ": " + op_name(raw_kind(op)) + " kernel launch");
}

void GpuDevice::run(const hearth_op& op) {
  validate(op);
  const uint32_t kind = raw_kind(op);
  quantized_input_.forget_if_overlapping(op.dst);
  if (kind == HEARTH_OP_ATTENTION_SLOTS) quantized_input_.forget();  // also writes the mass
  if (kind == HEARTH_OP_EMBEDDING || kind == HEARTH_OP_ATTENTION_SLOTS) {
    // These read host memory and wait for the stream while they run: nothing to capture.
    graph_.flush(stream_);
    return launch(op);
  }
  if (profile_.enabled()) {  // one op at a time, each timed alone
    graph_.flush(stream_);
    profile_.start(stream_);
    launch(op);
    return profile_.stop(stream_, op);
  }
  graph_.begin(stream_);
  try {
    launch(op);
  } catch (...) {
    graph_.abandon(stream_);  // a failed launch invalidates the capture; earlier ops are lost
    throw;
  }
}

void GpuDevice::launch(const hearth_op& op) {
  switch (raw_kind(op)) {
    case HEARTH_OP_EMBEDDING: {
      // Ids out of range would read outside the table; they are few, so check them on the host.
      embedding_ids_.resize(static_cast<size_t>(op.src[1].ne[0]));
      copy(embedding_ids_.data(), op.src[1].data, embedding_ids_.size() * sizeof(int32_t),
           "reading EMBEDDING ids");
      check_embedding_ids(op, embedding_ids_);
      return check_launch(launch_embedding(op, stream_), op);
    }
    case HEARTH_OP_RMS_NORM:
      return check_launch(launch_rms_norm(op, stream_), op);
    case HEARTH_OP_MATMUL: {
#if !defined(HEARTH_GPU_HIP)
      if (run_cublas_matmul(op)) return;
#endif
      const uint64_t bytes = matmul_scratch_bytes(op);
      void* scratch = matmul_scratch(bytes);
      const bool quantizes = bytes > 0 && scratch != nullptr;
      const ActivationRounding rounding = matmul_activation_rounding(op);
      const bool ready = quantizes && quantized_input_.holds(op.src[1], scratch, rounding);
      check_launch(launch_matmul(op, scratch, scratch ? bytes : 0, stream_, ready), op);
      if (quantizes) {
        quantized_input_.remember(op.src[1], scratch, rounding);
        quantized_input_.forget_if_overlapping(op.dst);
      }
      return;
    }
    case HEARTH_OP_ROPE:
      return check_launch(launch_rope(op, stream_), op);
    case HEARTH_OP_ATTENTION: {
      const int64_t splits = attention_splits(op, sm_count_);
      float* scratch = attention_scratch(attention_scratch_bytes(op, splits));
      return check_launch(launch_attention(op, splits, scratch, stream_), op);
    }
    case HEARTH_OP_SWIGLU:
    case HEARTH_OP_ADD:
    case HEARTH_OP_MUL:
      return check_launch(launch_elementwise(op, stream_), op);
    case HEARTH_OP_SOFTMAX:
      return check_launch(launch_softmax(op, stream_), op);
    case HEARTH_OP_COPY:
      return check_launch(launch_copy(op, stream_), op);
    case HEARTH_OP_ATTENTION_SLOTS:
      return slot_attention_.run(op, stream_);
  }
  throw PluginError(HEARTH_ERR_INTERNAL,
                    name() + ": " + op_name(raw_kind(op)) + " passed checks but has no kernel");
}

#if !defined(HEARTH_GPU_HIP)

void GpuDevice::open_cublas() {
  cublas_min_tokens_ = kDefaultCublasMinTokens;
  if (const char* value = std::getenv(kCublasMinTokensVariable)) {
    const std::string_view text(value);
    int64_t parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && parsed >= 0) {
      cublas_min_tokens_ = parsed;
    } else {
      log(HEARTH_LOG_WARN, name() + ": " + kCublasMinTokensVariable + "=\"" + value +
                               "\" is not a token count; using " +
                               std::to_string(kDefaultCublasMinTokens) + " (0 turns cuBLAS off)");
    }
  }
  if (cublas_min_tokens_ == 0) {
    log(HEARTH_LOG_INFO,
        name() + ": " + kCublasMinTokensVariable + "=0: prefill matmuls use the built-in kernel");
    return;
  }
  std::string why_not;
  cublas_ = CublasMatmul::open(stream_, why_not);
  if (!cublas_) {
    log(HEARTH_LOG_INFO, name() + ": " + why_not +
                             "; prefill matmuls use the built-in kernel (install the CUDA 13 "
                             "cuBLAS library for tensor-core prefill)");
    return;
  }
  log(HEARTH_LOG_INFO, name() + ": matmuls of " + std::to_string(cublas_min_tokens_) +
                           " or more tokens go through cuBLAS (" + cublas_->library_name() + ")");
}

void* GpuDevice::scratch(uint64_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  // free() waits for queued work that may still read the old scratch.
  free(scratch_);
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  scratch_ = alloc(bytes);
  scratch_bytes_ = bytes;
  return scratch_;
}

bool GpuDevice::run_cublas_matmul(const hearth_op& op) {
  if (!cublas_ || row_count(op.src[1]) < cublas_min_tokens_) return false;
  const auto plan = plan_cublas_matmul(op);
  if (!plan) return false;
  void* buffer = nullptr;
  try {
    if (!workspace_tried_) {
      workspace_tried_ = true;
      // Without one cuBLAS allocates its own, outside this device's accounting.
      void* workspace = alloc(CublasMatmul::kWorkspaceBytes);
      if (!cublas_->set_workspace(workspace, CublasMatmul::kWorkspaceBytes)) {
        free(workspace);
        log(HEARTH_LOG_WARN,
            name() + ": cuBLAS refused the workspace; it allocates its own beyond the accounting");
      }
    }
    if (plan->scratch_bytes() > 0) buffer = scratch(plan->scratch_bytes());
  } catch (const PluginError& e) {
    if (e.code() != HEARTH_ERR_OUT_OF_MEMORY) throw;
    if (!told_scratch_failure_)
      log(HEARTH_LOG_WARN, name() + ": no room for the cuBLAS scratch (" + e.what() +
                               "); such matmuls use the built-in kernel");
    told_scratch_failure_ = true;
    return false;
  }
  if (auto error = cublas_->run(op, *plan, buffer))
    throw PluginError(HEARTH_ERR_DEVICE, name() + ": MATMUL through cuBLAS: " + error->stage +
                                             " failed: " + error->detail);
  return true;
}

#endif  // !HEARTH_GPU_HIP

}  // namespace hearth::backend_gpu

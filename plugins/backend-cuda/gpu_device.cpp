#include "gpu_device.hpp"

#include <vector>

#include "backend_name.hpp"
#include "kernels.hpp"
#include "op_validation.hpp"

namespace hearth::backend_gpu {
namespace {

using sdk::PluginError;

// Left free for the runtime's own needs (kernel launches, module loading) when accounting.
constexpr uint64_t kHeadroomBytes = uint64_t{64} << 20;
// cudaMalloc's alignment; a zero-byte request still gets a distinct pointer.
constexpr uint64_t kMinAllocation = 256;

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

void require_pointers(const std::string& what, void* dst, const void* src, uint64_t bytes) {
  if (bytes > 0 && (dst == nullptr || src == nullptr))
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, what + " of " + std::to_string(bytes) +
                                                       " bytes with a null " +
                                                       (dst == nullptr ? "destination" : "source"));
}

}  // namespace

void check_runtime(cudaError_t status, const std::string& what) {
  if (status == cudaSuccess) return;
  throw PluginError(HEARTH_ERR_DEVICE, what + " failed: " + cudaGetErrorString(status) + " (" +
                                           cudaGetErrorName(status) + ")");
}

GpuDevice::GpuDevice(const hearth_host_api* host, int index) : host_(host), index_(index) {
  check_runtime(cudaSetDevice(index_), name() + ": selecting the device");
  check_runtime(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                name() + ": creating a stream");
}

GpuDevice::~GpuDevice() {
  // Errors here have no one to go to: the device is being closed either way.
  static_cast<void>(cudaSetDevice(index_));
  if (stream_) static_cast<void>(cudaStreamSynchronize(stream_));
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
  // Work queued on the stream may still read the buffer.
  static_cast<void>(cudaStreamSynchronize(stream_));
  if (cudaFree(ptr) != cudaSuccess)
    log(HEARTH_LOG_ERROR, name() + ": cudaFree failed (an earlier kernel may have faulted)");
  held_bytes_ -= it->second;
  allocations_.erase(it);
}

void GpuDevice::copy(void* dst, const void* src, uint64_t bytes, const char* what) {
  require_pointers(name() + ": " + what, dst, src, bytes);
  if (bytes == 0) return;
  // cudaMemcpyDefault: unified addressing tells host from device pointers. The caller may reuse
  // its host buffer as soon as we return, so the copy completes first.
  check_runtime(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_),
                name() + ": " + what + " of " + std::to_string(bytes) + " bytes");
  check_runtime(cudaStreamSynchronize(stream_), name() + ": " + what);
}

void GpuDevice::copy_to_device(void* dst, const void* src, uint64_t bytes) {
  copy(dst, src, bytes, "copy_to_device");
}

void GpuDevice::copy_to_host(void* dst, const void* src, uint64_t bytes) {
  copy(dst, src, bytes, "copy_to_host");
}

void GpuDevice::synchronize() {
  check_runtime(cudaStreamSynchronize(stream_), name() + ": synchronize (an earlier kernel)");
}

std::optional<std::string> GpuDevice::unsupported_reason(const hearth_op& op) const {
  if (auto reason = check_op(op)) return reason;
  if (raw_kind(op) == HEARTH_OP_ATTENTION && op.src[0].ne[0] > kMaxAttentionHeadDim)
    return std::string(kBackendName) + ": ATTENTION: head_dim " + std::to_string(op.src[0].ne[0]) +
           " is larger than the " + std::to_string(kMaxAttentionHeadDim) +
           " this backend's attention kernel holds per head";
  return std::nullopt;
}

void GpuDevice::run(const hearth_op& op) {
  if (auto reason = unsupported_reason(op)) throw PluginError(HEARTH_ERR_UNSUPPORTED, *reason);
  check_op_data(op);
  const std::string what = name() + ": " + op_name(raw_kind(op)) + " kernel launch";
  switch (raw_kind(op)) {
    case HEARTH_OP_EMBEDDING: {
      // Ids out of range would read outside the table; they are few, so check them on the host.
      std::vector<int32_t> ids(static_cast<size_t>(op.src[1].ne[0]));
      copy(ids.data(), op.src[1].data, ids.size() * sizeof(int32_t), "reading EMBEDDING ids");
      check_embedding_ids(op, ids);
      return check_runtime(launch_embedding(op, stream_), what);
    }
    case HEARTH_OP_RMS_NORM:
      return check_runtime(launch_rms_norm(op, stream_), what);
    case HEARTH_OP_MATMUL:
      return check_runtime(launch_matmul(op, stream_), what);
    case HEARTH_OP_ROPE:
      return check_runtime(launch_rope(op, stream_), what);
    case HEARTH_OP_ATTENTION:
      return check_runtime(launch_attention(op, stream_), what);
    case HEARTH_OP_SWIGLU:
    case HEARTH_OP_ADD:
    case HEARTH_OP_MUL:
      return check_runtime(launch_elementwise(op, stream_), what);
    case HEARTH_OP_SOFTMAX:
      return check_runtime(launch_softmax(op, stream_), what);
  }
  throw PluginError(HEARTH_ERR_INTERNAL,
                    name() + ": " + op_name(raw_kind(op)) + " passed checks but has no kernel");
}

}  // namespace hearth::backend_gpu

#include "cpu_device.hpp"

#include <cstdio>
#include <cstring>

#include "file_mapping.hpp"

#include "kernels.hpp"
#include "op_validation.hpp"

namespace hearth::backend_cpu {
namespace {

using sdk::PluginError;

constexpr uint64_t kAlignment = 64;

void require_pointers(const char* what, void* dst, const void* src, uint64_t bytes) {
  if (bytes > 0 && (dst == nullptr || src == nullptr))
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      std::string("cpu: ") + what + " of " + std::to_string(bytes) +
                          " bytes with a null " + (dst == nullptr ? "destination" : "source"));
}

}  // namespace

CpuDevice::CpuDevice(const hearth_host_api* host, const DeviceOptions& options)
    : host_(host),
      gemm_(options.use_onednn
                ? make_onednn_gemm([this](const std::string& m) { log(HEARTH_LOG_WARN, m); })
                : nullptr),
      profile_(options.profile ? std::make_unique<OpProfile>() : nullptr),
      pool_stats_(options.profile ? std::make_unique<PoolStats>() : nullptr),
      pool_(options.threads) {
  pool_.set_stats(pool_stats_.get());
}

CpuDevice::~CpuDevice() {
  if (profile_) {
    const std::string table = "cpu: op profile, " + std::to_string(pool_.size()) + " threads\n" +
                              profile_->table(*pool_stats_);
    std::fputs(table.c_str(), stderr);
  }
}

void CpuDevice::log(hearth_log_level level, const std::string& message) const {
  if (host_ && host_->log) host_->log(host_, level, "cpu", message.c_str());
}

void* CpuDevice::alloc(uint64_t bytes) {
  // aligned_alloc wants a multiple of the alignment; 0 bytes still gets a unique pointer.
  const uint64_t rounded =
      bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p =
      rounded >= bytes ? std::aligned_alloc(kAlignment, static_cast<size_t>(rounded)) : nullptr;
  if (p == nullptr)
    throw PluginError(HEARTH_ERR_OUT_OF_MEMORY,
                      "cpu: cannot allocate " + std::to_string(bytes) + " bytes of host memory");
  std::unique_ptr<void, FreeAligned> owned(p);
  std::lock_guard lock(allocations_mutex_);
  allocations_.emplace(static_cast<const char*>(p), Allocation{std::move(owned), rounded});
  return p;
}

void CpuDevice::free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  Allocation released;
  {
    std::lock_guard lock(allocations_mutex_);
    auto it = allocations_.find(static_cast<const char*>(ptr));
    if (it != allocations_.end()) {
      released = std::move(it->second);
      allocations_.erase(it);
    }
  }
  if (!released.memory) {
    log(HEARTH_LOG_ERROR,
        "cpu: free() of a pointer this device did not allocate (or freed twice); ignored");
    return;
  }
  interleaved_.forget(ptr, released.bytes);
}

WeightMemory CpuDevice::memory_of(const void* begin, uint64_t bytes) {
  const auto* first = static_cast<const char*>(begin);
  {
    std::lock_guard lock(allocations_mutex_);
    auto it = allocations_.upper_bound(first);
    if (it != allocations_.begin()) {
      --it;
      const uint64_t offset = static_cast<uint64_t>(first - it->first);
      if (offset < it->second.bytes && bytes <= it->second.bytes - offset)
        return WeightMemory::kDeviceAllocation;
    }
  }
  return in_read_only_file_mapping(begin, bytes) ? WeightMemory::kReadOnlyFile
                                                 : WeightMemory::kOther;
}

std::shared_ptr<const InterleavedMatrix> CpuDevice::interleaved_weight(const hearth_op& op) {
  InterleavedBuild built;
  const auto start = profile_ ? OpProfile::Clock::now() : OpProfile::Clock::time_point{};
  const uint64_t cpu_start = profile_ ? thread_cpu_ns() : 0;
  auto matrix = interleaved_.find_or_build(
      op.src[0], [this](const void* p, uint64_t n) { return memory_of(p, n); }, pool_, built);
  if (built.copied_bytes > 0) {
    if (profile_)
      profile_->record_weight_copy(OpProfile::Clock::now() - start, thread_cpu_ns() - cpu_start);
    const auto mib = [](uint64_t b) { return std::to_string((b + (1u << 19)) >> 20) + " MiB"; };
    log(built.released_bytes > 0 ? HEARTH_LOG_DEBUG : HEARTH_LOG_INFO,
        "cpu: copied a " + std::to_string(op.src[0].ne[1]) +
            "-row weight into 8-row interleaved "
            "blocks for decode (" +
            mib(built.copied_bytes) + ", " + mib(interleaved_.total_bytes()) + " in all; " +
            mib(built.released_bytes) + " of the model file's pages released)");
  }
  return matrix;
}

void CpuDevice::copy_to_device(void* dst, const void* src, uint64_t bytes) {
  require_pointers("copy_to_device", dst, src, bytes);
  if (bytes > 0) std::memmove(dst, src, static_cast<size_t>(bytes));
  interleaved_.forget(dst, bytes);
}

void CpuDevice::copy_to_host(void* dst, const void* src, uint64_t bytes) {
  require_pointers("copy_to_host", dst, src, bytes);
  if (bytes > 0) std::memmove(dst, src, static_cast<size_t>(bytes));
  if (profile_) profile_->record_step_end(OpProfile::Clock::now());
}

std::optional<std::string> CpuDevice::unsupported_reason(const hearth_op& op) const {
  return check_op(op);
}

void CpuDevice::run(const hearth_op& op) {
  if (!profile_) {
    prepare(op);
    return run_kernel(op);
  }
  // The whole call, checks included: the gaps between calls are then the engine's alone.
  const auto start = OpProfile::Clock::now();
  const uint64_t cpu_start = thread_cpu_ns();
  prepare(op);
  const auto checked = OpProfile::Clock::now();
  run_kernel(op);
  const uint64_t cpu_ns = thread_cpu_ns() - cpu_start;
  profile_->record_checks(checked - start);
  profile_->record(op, start, OpProfile::Clock::now(), cpu_ns);
}

void CpuDevice::prepare(const hearth_op& op) {
  if (auto reason = check_op(op)) throw PluginError(HEARTH_ERR_UNSUPPORTED, *reason);
  check_op_data(op);
  // An op writing into memory a weight copy was made from makes that copy stale.
  uint64_t dst_extent = 64;  // past the last element, whatever its size
  for (int i = 0; i < 4; ++i)
    if (op.dst.ne[i] > 0) dst_extent += static_cast<uint64_t>((op.dst.ne[i] - 1) * op.dst.nb[i]);
  interleaved_.forget(op.dst.data, dst_extent);
}

void CpuDevice::run_kernel(const hearth_op& op) {
  switch (raw_kind(op)) {
    case HEARTH_OP_EMBEDDING:
      return run_embedding(op, pool_);
    case HEARTH_OP_RMS_NORM:
      return run_rms_norm(op, pool_);
    case HEARTH_OP_MATMUL:
      return run_matmul(op, pool_, gemm_.get(), matmul_scratch_, interleaved_weight(op).get());
    case HEARTH_OP_ROPE:
      return run_rope(op, pool_);
    case HEARTH_OP_ATTENTION:
      return run_attention(op, pool_);
    case HEARTH_OP_ATTENTION_SLOTS:
      return run_attention_slots(op, pool_);
    case HEARTH_OP_SWIGLU:
      return run_swiglu(op, pool_);
    case HEARTH_OP_ADD:
      return run_binary(op, pool_);
    case HEARTH_OP_SOFTMAX:
      return run_softmax(op, pool_);
    case HEARTH_OP_MUL:
      return run_binary(op, pool_);
    case HEARTH_OP_COPY:
      return run_copy(op, pool_);
  }
  throw PluginError(HEARTH_ERR_INTERNAL,
                    "cpu: " + op_name(raw_kind(op)) + " passed checks but has no kernel");
}

}  // namespace hearth::backend_cpu

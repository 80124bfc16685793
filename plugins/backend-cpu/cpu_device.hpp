// The one device of the cpu backend: host memory, memcpy copies, and the op kernels run on a
// thread pool the device owns.
#pragma once

#include <hearth/sdk/plugin.hpp>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "device_options.hpp"
#include "f32_gemm.hpp"
#include "interleaved_weights.hpp"
#include "kernels.hpp"
#include "op_profile.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {

class CpuDevice final : public sdk::Device {
 public:
  CpuDevice(const hearth_host_api* host, const DeviceOptions& options);
  // With profiling on, writes the op table to stderr.
  ~CpuDevice() override;
  CpuDevice(const CpuDevice&) = delete;
  CpuDevice& operator=(const CpuDevice&) = delete;

  void* alloc(uint64_t bytes) override;
  void free(void* ptr) noexcept override;
  void copy_to_device(void* dst, const void* src, uint64_t bytes) override;
  void copy_to_host(void* dst, const void* src, uint64_t bytes) override;
  void synchronize() override {}
  std::optional<std::string> unsupported_reason(const hearth_op& op) const override;
  void run(const hearth_op& op) override;

  unsigned thread_count() const { return pool_.size(); }
  const char* prefill_matmul() const { return gemm_ ? "oneDNN" : "plain loop"; }

 private:
  struct FreeAligned {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  struct Allocation {
    std::unique_ptr<void, FreeAligned> memory;
    uint64_t bytes = 0;
  };
  void log(hearth_log_level level, const std::string& message) const;
  // Checks op and drops weight copies its output would overwrite.
  void prepare(const hearth_op& op);
  void run_kernel(const hearth_op& op);
  WeightMemory memory_of(const void* begin, uint64_t bytes);
  std::shared_ptr<const InterleavedMatrix> interleaved_weight(const hearth_op& op);

  const hearth_host_api* host_;
  std::mutex allocations_mutex_;
  // Every live allocation, so a bad free() is reported instead of corrupting the heap, and
  // whatever is still allocated is released when the device closes. Ordered by address, so the
  // allocation holding a pointer can be found.
  std::map<const char*, Allocation> allocations_;
  InterleavedWeights interleaved_;
  std::unique_ptr<F32Gemm> gemm_;
  MatmulScratch matmul_scratch_;
  // Profiling (null when off). The pool's stats are written only while an op runs, and the
  // table is printed after the pool's threads are gone.
  std::unique_ptr<OpProfile> profile_;
  std::unique_ptr<PoolStats> pool_stats_;
  ThreadPool pool_;  // last member: its threads are joined before anything they use goes away
};

}  // namespace hearth::backend_cpu

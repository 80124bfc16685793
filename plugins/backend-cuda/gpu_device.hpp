// One opened GPU: a stream that runs every op in order, and the allocations made through it.
// Memory is accounted before each allocation so a request that cannot fit is refused with the
// bytes asked for and free, instead of failing inside the driver.
#pragma once

#include <hearth/sdk/plugin.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// Throws sdk::PluginError(HEARTH_ERR_DEVICE) naming what failed when status is an error.
void check_runtime(cudaError_t status, const std::string& what);

class GpuDevice final : public sdk::Device {
 public:
  GpuDevice(const hearth_host_api* host, int index);
  ~GpuDevice() override;
  GpuDevice(const GpuDevice&) = delete;
  GpuDevice& operator=(const GpuDevice&) = delete;

  void* alloc(uint64_t bytes) override;
  void free(void* ptr) noexcept override;
  void copy_to_device(void* dst, const void* src, uint64_t bytes) override;
  void copy_to_host(void* dst, const void* src, uint64_t bytes) override;
  void synchronize() override;
  std::optional<std::string> unsupported_reason(const hearth_op& op) const override;
  void run(const hearth_op& op) override;

 private:
  void log(hearth_log_level level, const std::string& message) const;
  void copy(void* dst, const void* src, uint64_t bytes, const char* what);
  std::string name() const;

  const hearth_host_api* host_;
  int index_;
  cudaStream_t stream_ = nullptr;
  std::mutex allocations_mutex_;
  std::unordered_map<void*, uint64_t> allocations_;
  uint64_t held_bytes_ = 0;
};

}  // namespace hearth::backend_gpu

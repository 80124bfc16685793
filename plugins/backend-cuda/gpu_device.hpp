// One opened GPU: a stream that runs every op in order, and the allocations made through it.
// Memory is accounted before each allocation so a request that cannot fit is refused with the
// bytes asked for and free, instead of failing inside the driver.
#pragma once

#include <hearth/sdk/plugin.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "attention_slots.hpp"
#include "gpu_runtime.hpp"
#include "op_profile.hpp"
#include "quantized_input.hpp"
#include "step_graph.hpp"

#if !defined(HEARTH_GPU_HIP)
#include "cublas_matmul.hpp"
#endif

namespace hearth::backend_gpu {

// Throws sdk::PluginError(HEARTH_ERR_DEVICE) naming what failed when status is an error.
void check_runtime(cudaError_t status, const std::string& what);

// Op descriptors (everything but the data pointers) that passed check_op, so a decode step that
// repeats the same shapes is checked once per shape instead of once per op. Direct-mapped: a
// colliding descriptor evicts the old one, which is only checked again.
class CheckedOpCache {
 public:
  CheckedOpCache();
  bool contains(const hearth_op& op) const;
  void remember(const hearth_op& op);

 private:
  struct Entry {
    bool used = false;
    hearth_op key{};
  };
  static constexpr size_t kEntries = 128;
  static hearth_op key_of(const hearth_op& op);
  static size_t slot_of(const hearth_op& key);
  std::vector<Entry> entries_;
};

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
  // ATTENTION's scratch for split key ranges, grown on demand (freed with the device).
  float* attention_scratch(uint64_t bytes);
  // MATMUL's quantized activations, grown on demand (freed with the device); null when there
  // is no room, which sends the op to a kernel that needs none.
  void* matmul_scratch(uint64_t bytes);
  std::string name() const;
  // Throws the reason op cannot run; returns quietly (and allocation-free) when it can.
  void validate(const hearth_op& op);
  // Throws HEARTH_ERR_DEVICE naming the op when a launch failed.
  void check_launch(cudaError_t status, const hearth_op& op) const;
  // Launches op's kernels on the stream (captured into graph_ when a capture is under way).
  void launch(const hearth_op& op);

#if !defined(HEARTH_GPU_HIP)
  void open_cublas();
  // Runs op through cuBLAS when it has enough tokens and a GEMM layout; false leaves it to the
  // built-in kernel.
  bool run_cublas_matmul(const hearth_op& op);
  // The device's scratch, grown (through alloc, so accounted) to at least bytes.
  void* scratch(uint64_t bytes);
#endif

  const hearth_host_api* host_;
  int index_;
  cudaStream_t stream_ = nullptr;
  int sm_count_ = 0;
  std::mutex allocations_mutex_;
  std::unordered_map<void*, uint64_t> allocations_;
  uint64_t held_bytes_ = 0;
  CheckedOpCache checked_ops_;
  StepGraph graph_;
  OpProfile profile_;
  std::vector<int32_t> embedding_ids_;  // reused so EMBEDDING allocates only when it grows

#if !defined(HEARTH_GPU_HIP)
  std::unique_ptr<CublasMatmul> cublas_;  // null when libcublas is missing
  int64_t cublas_min_tokens_ = 0;         // MATMULs with fewer tokens use the kernel
  void* scratch_ = nullptr;
  uint64_t scratch_bytes_ = 0;
  bool workspace_tried_ = false;
  bool told_scratch_failure_ = false;
#endif
  void* attention_scratch_ = nullptr;
  uint64_t attention_scratch_bytes_ = 0;
  void* matmul_scratch_ = nullptr;
  uint64_t matmul_scratch_bytes_ = 0;
  bool told_matmul_scratch_failure_ = false;
  QuantizedInput quantized_input_;  // what matmul_scratch_ holds
  // After allocations_: its buffers are the device's, freed by the destructor's body.
  SlotAttention slot_attention_{*this};
};

}  // namespace hearth::backend_gpu

// ATTENTION_SLOTS, host side. The slot table, the records and positions it points to, and the
// attention mass may be host memory (core's KvSlotCache keeps them there) or memory of this
// device (the conformance suite uploads them): the table is read on the host, the records are
// gathered into one device staging buffer (host records through one pinned copy, device records
// by device-to-device copies), and the mass is copied out to wherever src[3] points.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

class GpuDevice;

class SlotAttention {
 public:
  explicit SlotAttention(GpuDevice& device) : device_(device) {}
  SlotAttention(const SlotAttention&) = delete;
  SlotAttention& operator=(const SlotAttention&) = delete;

  // Why this backend cannot run the op's shape (nullopt when it can); never reads data.
  static std::optional<std::string> unsupported_reason(const hearth_op& op);

  // Runs a checked op; returns when the outputs are written (the mass may be host memory).
  void run(const hearth_op& op, cudaStream_t stream);

 private:
  // A device buffer of at least `bytes`, grown through the device's accounted allocator. Left to
  // the device to free when it closes.
  struct DeviceScratch {
    void* data = nullptr;
    uint64_t bytes = 0;
  };
  void reserve(DeviceScratch& scratch, uint64_t bytes);
  void reserve_pinned(uint64_t bytes);

  struct PinnedDeleter {
    void operator()(void* p) const noexcept;
  };

  GpuDevice& device_;
  DeviceScratch staging_, scores_, mass_;
  std::unique_ptr<uint8_t, PinnedDeleter> pinned_;
  uint64_t pinned_bytes_ = 0;
};

}  // namespace hearth::backend_gpu

// HEARTH_CUDA_PROFILE=1: times every op on the GPU (CUDA events around its launch, waited for
// at once, so the ops no longer overlap the host) and, when the device closes, prints one line
// per op kind and weight type to stderr: count, GPU time, host time to queue it. For finding
// where a decode step's time goes on machines without Nsight; off, it costs one branch per op.
#pragma once

#include <hearth/sdk/abi.h>

#include <chrono>
#include <map>
#include <string>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

class OpProfile {
 public:
  OpProfile();
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  bool enabled() const { return enabled_; }
  // Around one op's launch on stream.
  void start(cudaStream_t stream);
  void stop(cudaStream_t stream, const hearth_op& op);
  // The table, to stderr (called when the device closes).
  void report(const std::string& device_name) const;

 private:
  struct Totals {
    long count = 0;
    double gpu_ms = 0;
    double host_ms = 0;
  };
  bool enabled_ = false;
  cudaEvent_t begin_ = nullptr;
  cudaEvent_t end_ = nullptr;
  std::chrono::steady_clock::time_point host_begin_;
  std::map<std::string, Totals> totals_;
};

}  // namespace hearth::backend_gpu

// Replays a run of queued ops as one CUDA graph instead of one launch each. A decode step is
// ~500 small kernels whose launch cost (~5 us each through the driver) is larger than their
// work; captured once per step and replayed as a graph, the launches cost a fraction of that.
//
// The device captures every op that only launches work on its stream, and ends the capture
// (launching what it holds) before anything that must run now: copies, allocations,
// synchronisation, ops that read host memory. A step whose shapes are those of the previous one
// updates the instantiated graph in place; a different one (a new topology) instantiates anew.
// The HIP build compiles this out (the ops launch one by one there).
#pragma once

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

class StepGraph {
 public:
  // Off unless HEARTH_CUDA_GRAPHS=1: on the H200 a captured-and-updated decode step measured
  // 5-8 % slower than direct launches (docs/benchmarks.md), the step being bound by GPU time.
  StepGraph();
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  bool enabled() const { return enabled_; }
  // Starts capturing stream's work unless that is off or already under way.
  void begin(cudaStream_t stream);
  // Ends a capture under way and launches what it holds on stream; throws if that fails.
  void flush(cudaStream_t stream);
  // Ends a capture under way and drops it (after a failed launch inside it).
  void abandon(cudaStream_t stream) noexcept;
  // How many graphs were launched, and how many of them needed a new instantiation.
  long launches() const { return launches_; }
  long instantiations() const { return instantiations_; }

 private:
  bool enabled_ = false;
  bool capturing_ = false;
  long launches_ = 0;
  long instantiations_ = 0;
#if !defined(HEARTH_GPU_HIP)
  cudaGraphExec_t exec_ = nullptr;
#endif
};

}  // namespace hearth::backend_gpu

#include "step_graph.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "gpu_device.hpp"

namespace hearth::backend_gpu {

#if !defined(HEARTH_GPU_HIP)

StepGraph::StepGraph() {
  const char* setting = std::getenv("HEARTH_CUDA_GRAPHS");
  enabled_ = setting != nullptr && std::strcmp(setting, "0") != 0;
}

StepGraph::~StepGraph() {
  if (exec_) static_cast<void>(cudaGraphExecDestroy(exec_));
}

void StepGraph::begin(cudaStream_t stream) {
  if (!enabled_ || capturing_) return;
  // Relaxed: the kernels' launch helpers may query function attributes while capturing.
  check_runtime(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed),
                "starting a CUDA graph capture");
  capturing_ = true;
}

void StepGraph::abandon(cudaStream_t stream) noexcept {
  if (!capturing_) return;
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  static_cast<void>(cudaStreamEndCapture(stream, &graph));
  if (graph) static_cast<void>(cudaGraphDestroy(graph));
  static_cast<void>(cudaGetLastError());
}

void StepGraph::flush(cudaStream_t stream) {
  if (!capturing_) return;
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  check_runtime(cudaStreamEndCapture(stream, &graph), "ending a CUDA graph capture");
  struct GraphOwner {
    cudaGraph_t g;
    ~GraphOwner() {
      if (g) static_cast<void>(cudaGraphDestroy(g));
    }
  } owner{graph};
  if (graph == nullptr) return;  // nothing was captured
  bool updated = false;
  if (exec_) {
    cudaGraphExecUpdateResultInfo info{};
    updated = cudaGraphExecUpdate(exec_, graph, &info) == cudaSuccess;
    if (!updated) {
      static_cast<void>(cudaGetLastError());  // a refused update is expected, not an error
      static_cast<void>(cudaGraphExecDestroy(exec_));
      exec_ = nullptr;
    }
  }
  if (!updated) {
    check_runtime(cudaGraphInstantiate(&exec_, graph, 0), "instantiating a CUDA graph");
    ++instantiations_;
  }
  check_runtime(cudaGraphLaunch(exec_, stream), "launching a CUDA graph");
  ++launches_;
}

#else

StepGraph::StepGraph() = default;
StepGraph::~StepGraph() = default;
void StepGraph::begin(cudaStream_t) {}
void StepGraph::flush(cudaStream_t) {}
void StepGraph::abandon(cudaStream_t) noexcept {}

#endif

}  // namespace hearth::backend_gpu

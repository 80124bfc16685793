#include "op_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dtype_info.hpp"
#include "gpu_device.hpp"
#include "op_validation.hpp"

namespace hearth::backend_gpu {

OpProfile::OpProfile() {
  const char* setting = std::getenv("HEARTH_CUDA_PROFILE");
  enabled_ = setting != nullptr && std::strcmp(setting, "0") != 0;
  if (!enabled_) return;
  check_runtime(cudaEventCreate(&begin_), "creating a profiling event");
  check_runtime(cudaEventCreate(&end_), "creating a profiling event");
}

OpProfile::~OpProfile() {
  if (begin_) static_cast<void>(cudaEventDestroy(begin_));
  if (end_) static_cast<void>(cudaEventDestroy(end_));
}

void OpProfile::start(cudaStream_t stream) {
  check_runtime(cudaStreamSynchronize(stream), "profiling: waiting for earlier work");
  host_begin_ = std::chrono::steady_clock::now();
  check_runtime(cudaEventRecord(begin_, stream), "profiling: recording an event");
}

void OpProfile::stop(cudaStream_t stream, const hearth_op& op) {
  const double host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_begin_)
          .count();
  check_runtime(cudaEventRecord(end_, stream), "profiling: recording an event");
  check_runtime(cudaEventSynchronize(end_), "profiling: waiting for the op");
  float gpu_ms = 0;
  check_runtime(cudaEventElapsedTime(&gpu_ms, begin_, end_), "profiling: reading the events");
  std::string key = op_name(op.kind);
  if (op.kind == HEARTH_OP_MATMUL) {
    const int64_t tokens = op.src[1].ne[1] * op.src[1].ne[2] * op.src[1].ne[3];
    key += " " + dtype_name(static_cast<hearth_dtype>(op.src[0].dtype)) + " " +
           std::to_string(op.src[0].ne[1]) + "x" + std::to_string(op.src[0].ne[0]) +
           (tokens == 1 ? "" : " (" + std::to_string(tokens) + " tok)");
  }
  Totals& t = totals_[key];
  ++t.count;
  t.gpu_ms += gpu_ms;
  t.host_ms += host_ms;
}

void OpProfile::report(const std::string& device_name) const {
  if (!enabled_ || totals_.empty()) return;
  std::vector<std::pair<std::string, Totals>> rows(totals_.begin(), totals_.end());
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second.gpu_ms > b.second.gpu_ms; });
  double gpu_total = 0;
  for (const auto& [key, t] : rows) gpu_total += t.gpu_ms;
  std::fprintf(stderr, "%s op profile (HEARTH_CUDA_PROFILE): %.3f ms of GPU time\n",
               device_name.c_str(), gpu_total);
  std::fprintf(stderr, "%-44s %9s %11s %9s %9s %6s\n", "op", "count", "gpu ms", "gpu us/op",
               "host us/op", "%gpu");
  for (const auto& [key, t] : rows)
    std::fprintf(stderr, "%-44s %9ld %11.3f %9.2f %9.2f %5.1f%%\n", key.c_str(), t.count, t.gpu_ms,
                 1e3 * t.gpu_ms / static_cast<double>(t.count),
                 1e3 * t.host_ms / static_cast<double>(t.count), 100.0 * t.gpu_ms / gpu_total);
}

}  // namespace hearth::backend_gpu

// The GPU backend plugin ("cuda", or "hip" when built by hipcc): one device per GPU the runtime
// sees. A machine without a GPU or without a driver has zero devices; the plugin still loads.
#include <hearth/sdk/plugin.hpp>

#include "backend_name.hpp"
#include "gpu_device.hpp"

namespace hearth::backend_gpu {
namespace {

using sdk::PluginError;

int visible_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());  // no driver or no device: not an error for enumeration
    return 0;
  }
  return count;
}

hearth_device_info describe(int index) {
  cudaDeviceProp prop{};
  check_runtime(
      cudaGetDeviceProperties(&prop, index),
      std::string(kBackendName) + ": reading the properties of device " + std::to_string(index));
  hearth_device_info info{};
  info.struct_size = sizeof info;
  info.type = prop.integrated ? HEARTH_DEVICE_IGPU : HEARTH_DEVICE_GPU;
  sdk::copy_name(info.name, std::string(kBackendName) + ":" + std::to_string(index));
  sdk::copy_name(info.description, prop.name);
  info.memory_total = prop.totalGlobalMem;
  info.memory_free = prop.totalGlobalMem;
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice(index) == cudaSuccess &&
      cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
    info.memory_free = free_bytes;
  else
    static_cast<void>(cudaGetLastError());
  info.compute_units = static_cast<uint32_t>(prop.multiProcessorCount);
  return info;
}

class GpuBackend final : public sdk::Backend {
 public:
  using Backend::Backend;

  std::vector<hearth_device_info> devices() const override {
    std::vector<hearth_device_info> out;
    const int count = visible_device_count();
    for (int i = 0; i < count; ++i) out.push_back(describe(i));
    return out;
  }

  std::unique_ptr<sdk::Device> open(uint32_t index, const sdk::Options& /*options*/) override {
    const int count = visible_device_count();
    if (static_cast<int64_t>(index) >= count)
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        std::string(kBackendName) + ": no device " + std::to_string(index) +
                            "; this machine has " + std::to_string(count) +
                            " (run `hearth devices` to list them)");
    auto device = std::make_unique<GpuDevice>(host(), static_cast<int>(index));
    const hearth_device_info info = describe(static_cast<int>(index));
    log(HEARTH_LOG_INFO, kBackendName,
        std::string(info.name) + ": opened " + info.description + " with " +
            std::to_string(info.memory_free >> 20) + " MiB free of " +
            std::to_string(info.memory_total >> 20) + " MiB");
    return device;
  }
};

}  // namespace
}  // namespace hearth::backend_gpu

#if defined(HEARTH_GPU_HIP)
HEARTH_BACKEND_PLUGIN(hearth::backend_gpu::GpuBackend, "hip", "0.1.0",
                      "HIP backend: AMD GPUs, the CUDA backend's kernels compiled by hipcc; "
                      "decode matmuls read GGUF blocks directly")
#else
HEARTH_BACKEND_PLUGIN(hearth::backend_gpu::GpuBackend, "cuda", "0.1.0",
                      "CUDA backend: NVIDIA GPUs; decode matmuls read GGUF blocks directly "
                      "(F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K, NF4, CS256)")
#endif

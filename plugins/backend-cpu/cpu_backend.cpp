// The cpu backend plugin: one device, "cpu", describing this machine.
#include <hearth/sdk/plugin.hpp>

#include "cpu_device.hpp"
#include "cpu_extensions.h"
#include "device_options.hpp"
#include "quant_kernels.hpp"
#include "system_info.hpp"

namespace hearth::backend_cpu {
namespace {

using sdk::PluginError;

CpuDevice* as_cpu_device(void* handle) {
  auto* h = static_cast<sdk::detail::DeviceHandle*>(handle);
  return h ? dynamic_cast<CpuDevice*>(h->device.get()) : nullptr;
}

uint32_t device_threads(void* handle) {
  const CpuDevice* device = as_cpu_device(handle);
  return device ? device->thread_count() : 0;
}

const char* prefill_matmul(void* handle) {
  const CpuDevice* device = as_cpu_device(handle);
  return device ? device->prefill_matmul() : "";
}

class CpuBackend final : public sdk::Backend {
 public:
  using Backend::Backend;

  std::vector<hearth_device_info> devices() const override {
    const SystemInfo system = read_system_info();
    hearth_device_info info{};
    info.struct_size = sizeof info;
    info.type = HEARTH_DEVICE_CPU;
    sdk::copy_name(info.name, "cpu");
    sdk::copy_name(info.description, system.cpu_model);
    info.memory_total = system.memory.total_bytes;
    info.memory_free = system.memory.available_bytes;
    info.compute_units = system.online_cpus;
    return {info};
  }

  std::unique_ptr<sdk::Device> open(uint32_t index, const sdk::Options& options) override {
    if (index != 0)
      throw PluginError(
          HEARTH_ERR_INVALID_ARGUMENT,
          "cpu: no device " + std::to_string(index) + "; the cpu backend has one device, index 0");
    const SystemInfo system = read_system_info();
    const DeviceOptions parsed = parse_device_options(options, default_thread_count(system));
    auto device = std::make_unique<CpuDevice>(host(), parsed);
    const CpuIsaChoice& isa = cpu_isa_choice();
    if (!isa.note.empty()) log(HEARTH_LOG_WARN, "cpu", isa.note);
    log(HEARTH_LOG_INFO, "cpu",
        "cpu: opened with " + std::to_string(device->thread_count()) + " threads (" +
            std::to_string(system.physical_cores) + " physical cores usable); prompt F32 matmul: " +
            device->prefill_matmul() + "; kernels: " + cpu_isa_name(isa.isa));
    return device;
  }

  void* get_proc(const char* name) override {
    const std::string_view n = name ? name : "";
    if (n == HEARTH_CPU_PROC_DEVICE_THREADS) return reinterpret_cast<void*>(&device_threads);
    if (n == HEARTH_CPU_PROC_PREFILL_MATMUL) return reinterpret_cast<void*>(&prefill_matmul);
    return nullptr;
  }
};

}  // namespace
}  // namespace hearth::backend_cpu

HEARTH_BACKEND_PLUGIN(hearth::backend_cpu::CpuBackend, "cpu", "0.1.0",
                      "CPU backend: plain threaded kernels for the llama decoder ops, oneDNN for "
                      "F32 prompt matmuls")

// `hearth devices`: the devices each backend plugin sees, with memory.
#include <iostream>

#include "commands.hpp"
#include "common.hpp"

namespace hearth::cli {
namespace {

const char* device_type_name(hearth_device_type type) {
  switch (type) {
    case HEARTH_DEVICE_CPU: return "cpu";
    case HEARTH_DEVICE_GPU: return "gpu";
    case HEARTH_DEVICE_IGPU: return "integrated gpu";
    case HEARTH_DEVICE_ACCEL: return "accelerator";
  }
  return "?";
}

}  // namespace

int cmd_devices(const Argv& argv) {
  Args args("devices", "List the devices of every backend plugin, with their memory.");
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;

  PluginRegistry registry(registry_options(args));
  const auto backends = registry.backends();
  if (backends.empty()) {
    std::cerr << "hearth: no backend plugin was loaded; run `hearth plugins` to see why\n";
    return 1;
  }
  for (const auto& backend : backends) {
    std::cout << "backend " << backend.name() << " (" << backend.info().file.filename().string()
              << ")\n";
    try {
      const auto devices = backend.devices();
      if (devices.empty()) std::cout << "  no devices\n";
      for (const auto& d : devices)
        std::cout << "  " << d.name << "  " << device_type_name(d.type) << "  " << d.description
                  << "\n      memory " << format_bytes(d.memory_total) << " total, "
                  << format_bytes(d.memory_free) << " free; " << d.compute_units
                  << " compute units\n";
    } catch (const std::exception& e) {
      std::cout << "  error: " << e.what() << "\n";
    }
  }
  return 0;
}

}  // namespace hearth::cli

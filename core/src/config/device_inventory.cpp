#include <cstring>
#include <hearth/config.hpp>
#include <hearth/plugin_registry.hpp>

namespace hearth {

DeviceInventory device_inventory(const PluginRegistry& registry) {
  DeviceInventory inventory;
  for (const BackendPlugin& backend : registry.backends()) {
    inventory.backends.push_back(backend.name());
    const auto devices = backend.devices();
    for (size_t i = 0; i < devices.size(); ++i) {
      const hearth_device_info& info = devices[i];
      inventory.devices.push_back(AvailableDevice{
          backend.name(), std::string(info.name, strnlen(info.name, sizeof info.name)), info.type,
          static_cast<uint32_t>(i)});
    }
  }
  return inventory;
}

}  // namespace hearth

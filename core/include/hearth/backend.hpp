// C++ view of a backend plugin: its devices, opened devices, and device buffers.
// Every wrapper keeps its plugin loaded, so objects may outlive the registry that made them.
#pragma once

#include <hearth/plugin_info.hpp>
#include <hearth/sdk/abi.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth {

namespace detail {
struct LoadedPlugin;
}

class BackendDevice;

// Device memory owned by RAII; freed on the device that made it.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::shared_ptr<BackendDevice> device, void* ptr, uint64_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  uint64_t size() const { return bytes_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  void release() noexcept;
  std::shared_ptr<BackendDevice> device_;
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
};

class BackendDevice : public std::enable_shared_from_this<BackendDevice> {
 public:
  BackendDevice(std::shared_ptr<detail::LoadedPlugin> plugin, void* handle,
                hearth_device_info info);
  ~BackendDevice();
  BackendDevice(const BackendDevice&) = delete;
  BackendDevice& operator=(const BackendDevice&) = delete;

  const hearth_device_info& info() const { return info_; }
  const std::string& backend_name() const;

  DeviceBuffer alloc(uint64_t bytes);
  void copy_to_device(void* dst, const void* src, uint64_t bytes);
  void copy_to_host(void* dst, const void* src, uint64_t bytes);
  void synchronize();
  // nullopt if the device can run op; otherwise the backend's reason.
  std::optional<std::string> unsupported_reason(const hearth_op& op);
  void run(const hearth_op& op);

 private:
  friend class DeviceBuffer;
  void free(void* ptr) noexcept;
  const hearth_backend_api& api() const;
  std::shared_ptr<detail::LoadedPlugin> plugin_;
  void* handle_;
  hearth_device_info info_;
};

class BackendPlugin {
 public:
  explicit BackendPlugin(std::shared_ptr<detail::LoadedPlugin> plugin);
  const PluginInfo& info() const;
  const std::string& name() const { return info().name; }
  std::vector<hearth_device_info> devices() const;
  std::shared_ptr<BackendDevice> open(uint32_t index,
                                      const std::map<std::string, std::string>& options = {});

 private:
  const hearth_backend_api& api() const;
  std::shared_ptr<detail::LoadedPlugin> plugin_;
};

}  // namespace hearth

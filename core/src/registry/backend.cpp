#include <hearth/backend.hpp>

#include <utility>

#include "registry/host_context.hpp"

namespace hearth {

DeviceBuffer::DeviceBuffer(std::shared_ptr<BackendDevice> device, void* ptr, uint64_t bytes)
    : device_(std::move(device)), ptr_(ptr), bytes_(bytes) {}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(std::move(other.device_)),
      ptr_(std::exchange(other.ptr_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    device_ = std::move(other.device_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (ptr_ && device_) device_->free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

BackendDevice::BackendDevice(std::shared_ptr<detail::LoadedPlugin> plugin, void* handle,
                             hearth_device_info info)
    : plugin_(std::move(plugin)), handle_(handle), info_(info) {}

BackendDevice::~BackendDevice() { api().close_device(handle_); }

const hearth_backend_api& BackendDevice::api() const {
  return *static_cast<const hearth_backend_api*>(plugin_->descriptor->api);
}

const std::string& BackendDevice::backend_name() const { return plugin_->info.name; }

DeviceBuffer BackendDevice::alloc(uint64_t bytes) {
  void* ptr = nullptr;
  check_status(api().alloc(handle_, bytes, &ptr),
               "allocating " + std::to_string(bytes) + " bytes on " + info_.name);
  return DeviceBuffer(shared_from_this(), ptr, bytes);
}

void BackendDevice::free(void* ptr) noexcept { api().free(handle_, ptr); }

void BackendDevice::copy_to_device(void* dst, const void* src, uint64_t bytes) {
  check_status(api().copy_to_device(handle_, dst, src, bytes),
               std::string("copying to ") + info_.name);
}

void BackendDevice::copy_to_host(void* dst, const void* src, uint64_t bytes) {
  check_status(api().copy_to_host(handle_, dst, src, bytes),
               std::string("copying from ") + info_.name);
}

void BackendDevice::synchronize() {
  check_status(api().synchronize(handle_), std::string("synchronizing ") + info_.name);
}

std::optional<std::string> BackendDevice::unsupported_reason(const hearth_op& op) {
  StatusPtr status(api().supports_op(handle_, &op));
  if (!status) return std::nullopt;
  return status->message;
}

void BackendDevice::run(const hearth_op& op) {
  check_status(api().run_op(handle_, &op),
               std::string("op ") + std::to_string(op.kind) + " on " + info_.name);
}

BackendPlugin::BackendPlugin(std::shared_ptr<detail::LoadedPlugin> plugin)
    : plugin_(std::move(plugin)) {}

const PluginInfo& BackendPlugin::info() const { return plugin_->info; }

const hearth_backend_api& BackendPlugin::api() const {
  return *static_cast<const hearth_backend_api*>(plugin_->descriptor->api);
}

std::vector<hearth_device_info> BackendPlugin::devices() const {
  std::vector<hearth_device_info> out;
  const uint32_t n = api().device_count(plugin_->instance);
  for (uint32_t i = 0; i < n; ++i) {
    hearth_device_info info{};
    info.struct_size = sizeof(info);
    check_status(api().device_info(plugin_->instance, i, &info),
                 "backend '" + name() + "' device " + std::to_string(i));
    info.name[sizeof(info.name) - 1] = '\0';
    info.description[sizeof(info.description) - 1] = '\0';
    out.push_back(info);
  }
  return out;
}

std::shared_ptr<BackendDevice> BackendPlugin::open(
    uint32_t index, const std::map<std::string, std::string>& options) {
  auto infos = devices();
  if (index >= infos.size())
    throw Error("backend '" + name() + "' has " + std::to_string(infos.size()) +
                " device(s); there is no device " + std::to_string(index));
  std::vector<hearth_option> c_options;
  for (const auto& [key, value] : options) c_options.push_back({key.c_str(), value.c_str()});
  void* handle = nullptr;
  check_status(api().open_device(plugin_->instance, index, c_options.data(), c_options.size(),
                                 &handle),
               "opening " + std::string(infos[index].name));
  return std::make_shared<BackendDevice>(plugin_, handle, infos[index]);
}

}  // namespace hearth

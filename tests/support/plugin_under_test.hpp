// Loads one plugin library directly (without the core registry) for tests of that plugin:
// resolves the entry point, checks the ABI, creates the instance with a host API whose
// statuses carry their message, and destroys everything in reverse order.
#pragma once

#include <hearth/sdk/abi.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace hearth::test {

// The host side of a status for tests: a code and a message.
struct TestStatus {
  hearth_status_code code;
  std::string message;
};

inline hearth_status* test_status_create(hearth_status_code code, const char* message) {
  return reinterpret_cast<hearth_status*>(new TestStatus{code, message ? message : ""});
}

inline void test_log(const hearth_host_api*, hearth_log_level, const char*, const char*) {}

inline const hearth_host_api* test_host_api() {
  static const hearth_host_api api{sizeof(hearth_host_api), HEARTH_ABI_MAJOR, HEARTH_ABI_MINOR,
                                   nullptr, &test_status_create, &test_log};
  return &api;
}

// Takes ownership of a status returned by a plugin. An empty optional-like result means OK.
struct StatusResult {
  std::unique_ptr<TestStatus> status;
  bool ok() const { return !status; }
  hearth_status_code code() const { return status ? status->code : HEARTH_OK; }
  std::string message() const { return status ? status->message : std::string(); }
};

inline StatusResult take(hearth_status* s) {
  return StatusResult{std::unique_ptr<TestStatus>(reinterpret_cast<TestStatus*>(s))};
}

// libhearth-<kind>-<name>.so in the build's plugin directory.
inline std::filesystem::path plugin_file(const std::string& kind, const std::string& name) {
  return std::filesystem::path(HEARTH_TEST_PLUGIN_DIR) / ("libhearth-" + kind + "-" + name + ".so");
}

class PluginUnderTest {
 public:
  explicit PluginUnderTest(const std::filesystem::path& file)
      : library_(file.string(), boost::dll::load_mode::rtld_local) {
    auto entry = library_.get<const hearth_plugin_descriptor*()>(HEARTH_PLUGIN_ENTRY_SYMBOL);
    descriptor_ = entry();
    if (!descriptor_ || descriptor_->abi_major != HEARTH_ABI_MAJOR)
      throw std::runtime_error("plugin " + file.string() + " has no usable descriptor");
    auto status = take(descriptor_->create(test_host_api(), &instance_));
    if (!status.ok()) throw std::runtime_error("plugin create failed: " + status.message());
  }
  ~PluginUnderTest() {
    if (instance_) descriptor_->destroy(instance_);
  }
  PluginUnderTest(const PluginUnderTest&) = delete;
  PluginUnderTest& operator=(const PluginUnderTest&) = delete;

  const hearth_plugin_descriptor& descriptor() const { return *descriptor_; }
  void* instance() const { return instance_; }
  template <class Api>
  const Api& api() const {
    return *static_cast<const Api*>(descriptor_->api);
  }

 private:
  boost::dll::shared_library library_;
  const hearth_plugin_descriptor* descriptor_ = nullptr;
  void* instance_ = nullptr;
};

}  // namespace hearth::test

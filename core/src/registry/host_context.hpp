// The host side of the plugin contract: the status object plugins create, the host API table
// handed to every plugin, and the loaded-plugin record that keeps a library alive.
#pragma once

#include <hearth/error.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/sdk/abi.h>

#include <boost/dll/shared_library.hpp>
#include <memory>
#include <string>

// Completes the opaque C type; only core creates and deletes these.
struct hearth_status {
  hearth_status_code code;
  std::string message;
};

namespace hearth {

struct StatusDeleter {
  void operator()(hearth_status* s) const noexcept;
};
using StatusPtr = std::unique_ptr<hearth_status, StatusDeleter>;

// Throws hearth::Error "<what>: <plugin's message>" if status is an error.
void check_status(hearth_status* status, const std::string& what);

namespace detail {

struct PluginHost {
  hearth_host_api api{};
  LogSink log;
};

// Destroys the instance before the library unloads (members destruct in reverse order).
struct LoadedPlugin {
  boost::dll::shared_library library;
  std::shared_ptr<detail::PluginHost> host;
  const hearth_plugin_descriptor* descriptor = nullptr;
  void* instance = nullptr;
  PluginInfo info;

  LoadedPlugin() = default;
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  ~LoadedPlugin();
};

}  // namespace detail

std::shared_ptr<detail::PluginHost> make_host(LogSink log);

}  // namespace hearth

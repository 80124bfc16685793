#include "registry/host_context.hpp"

#include <iostream>

namespace hearth {

void StatusDeleter::operator()(hearth_status* s) const noexcept { delete s; }

void check_status(hearth_status* status, const std::string& what) {
  StatusPtr owned(status);
  if (!owned) return;
  throw Error(what + ": " + owned->message, owned->code);
}

namespace {

hearth_status* create_status(hearth_status_code code, const char* message) {
  if (code == HEARTH_OK) code = HEARTH_ERR_INTERNAL;  // a status always means failure
  return new hearth_status{code, message ? message : "(no message)"};
}

void log_from_plugin(const hearth_host_api* api, hearth_log_level level, const char* plugin,
                     const char* message) {
  const auto* host = static_cast<const detail::PluginHost*>(api->context);
  host->log(level, plugin ? plugin : "?", message ? message : "");
}

void log_to_stderr(hearth_log_level level, const std::string& plugin, const std::string& message) {
  if (level < HEARTH_LOG_WARN) return;
  std::cerr << "hearth: " << (level == HEARTH_LOG_WARN ? "warning" : "error") << " [" << plugin
            << "] " << message << '\n';
}

}  // namespace

std::shared_ptr<detail::PluginHost> make_host(LogSink log) {
  auto host = std::make_shared<detail::PluginHost>();
  host->log = log ? std::move(log) : LogSink(&log_to_stderr);
  host->api.struct_size = sizeof(hearth_host_api);
  host->api.abi_major = HEARTH_ABI_MAJOR;
  host->api.abi_minor = HEARTH_ABI_MINOR;
  host->api.context = host.get();
  host->api.status_create = &create_status;
  host->api.log = &log_from_plugin;
  return host;
}

namespace detail {
LoadedPlugin::~LoadedPlugin() {
  if (instance && descriptor && descriptor->destroy) descriptor->destroy(instance);
}
}  // namespace detail

}  // namespace hearth

// Finds, checks and loads plugins at run time, and says why it refused any file.
//
// Search order: the directories given (from [runtime].plugin_path), then $HEARTH_PLUGIN_PATH
// (colon-separated), then <directory of libhearth>/hearth/plugins (the install layout and the
// build tree's layout). In each directory every file named libhearth-*.so is a candidate; the
// first plugin of a (kind, name) wins and later ones are refused as duplicates.
#pragma once

#include <hearth/backend.hpp>
#include <hearth/kv_policy.hpp>
#include <hearth/plugin_info.hpp>
#include <hearth/weight_format.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hearth {

namespace detail {
struct PluginHost;
}

// Receives plugin log lines; default: warnings and errors to stderr.
using LogSink = std::function<void(hearth_log_level, const std::string& plugin,
                                   const std::string& message)>;

struct RegistryOptions {
  std::vector<std::filesystem::path> search_path;
  bool use_environment = true;  // $HEARTH_PLUGIN_PATH
  bool use_default = true;      // <dir of libhearth>/hearth/plugins
  LogSink log;
};

class PluginRegistry {
 public:
  explicit PluginRegistry(RegistryOptions options = {});
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads one file; returns false (and records the reason) if it was refused.
  bool load(const std::filesystem::path& file);

  const std::vector<std::filesystem::path>& search_path() const { return search_path_; }
  std::vector<PluginInfo> plugins() const;
  const std::vector<RefusedPlugin>& refused() const { return refused_; }

  std::vector<BackendPlugin> backends() const;
  std::vector<FormatPlugin> formats() const;
  std::vector<KvPolicyPlugin> kv_policies() const;

  // Throw hearth::Error naming what was loaded when the plugin is missing.
  BackendPlugin backend(const std::string& name) const;
  FormatPlugin format(const std::string& name) const;
  KvPolicyPlugin kv_policy(const std::string& name) const;
  bool has(PluginKind kind, const std::string& name) const;

  // The first format plugin that knows dtype, or nullopt.
  std::optional<FormatPlugin> format_for(hearth_dtype dtype) const;

  // The directory libhearth was loaded from, joined with hearth/plugins.
  static std::filesystem::path default_plugin_dir();

 private:
  std::shared_ptr<detail::PluginHost> host_;
  std::vector<std::filesystem::path> search_path_;
  std::vector<std::shared_ptr<detail::LoadedPlugin>> loaded_;
  std::vector<RefusedPlugin> refused_;
};

}  // namespace hearth

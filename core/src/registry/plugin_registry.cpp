#include <hearth/plugin_registry.hpp>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <set>
#include <sstream>

#include "registry/plugin_loader.hpp"

namespace hearth {
namespace {

bool is_candidate(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  return name.rfind("libhearth-", 0) == 0 && name.find(".so") != std::string::npos;
}

std::vector<std::filesystem::path> split_path_list(const char* text) {
  std::vector<std::filesystem::path> out;
  if (!text) return out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ':'))
    if (!item.empty()) out.emplace_back(item);
  return out;
}

template <class Wrapper>
std::vector<Wrapper> wrap_kind(const std::vector<std::shared_ptr<detail::LoadedPlugin>>& loaded,
                               PluginKind kind) {
  std::vector<Wrapper> out;
  for (const auto& p : loaded)
    if (p->info.kind == kind) out.emplace_back(p);
  return out;
}

}  // namespace

std::filesystem::path PluginRegistry::default_plugin_dir() {
  boost::dll::fs::error_code ec;
  auto self = boost::dll::this_line_location(ec);
  if (ec) return {};
  std::error_code fs_error;
  auto dir = std::filesystem::weakly_canonical(self.parent_path().string(), fs_error);
  return dir / "hearth" / "plugins";
}

PluginRegistry::PluginRegistry(RegistryOptions options) : host_(make_host(std::move(options.log))) {
  search_path_ = options.search_path;
  if (options.use_environment)
    for (auto& dir : split_path_list(std::getenv("HEARTH_PLUGIN_PATH"))) search_path_.push_back(dir);
  if (options.use_default) search_path_.push_back(default_plugin_dir());

  std::set<std::filesystem::path> seen;
  for (const auto& dir : search_path_) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
      if (is_candidate(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto canonical = std::filesystem::weakly_canonical(file, ec);
      if (!seen.insert(ec ? file : canonical).second) continue;
      load(file);
    }
  }
}

PluginRegistry::~PluginRegistry() = default;

bool PluginRegistry::load(const std::filesystem::path& file) {
  auto result = detail::load_plugin_file(file, host_);
  if (!result.plugin) {
    refused_.push_back({file, std::move(result.refusal)});
    return false;
  }
  const auto& info = result.plugin->info;
  for (const auto& existing : loaded_) {
    if (existing->info.kind == info.kind && existing->info.name == info.name) {
      refused_.push_back({file, std::string("duplicate ") + plugin_kind_name(info.kind) +
                                    " plugin '" + info.name + "': already loaded from " +
                                    existing->info.file.string() +
                                    "; remove one, or put the one you want first on the plugin path"});
      return false;
    }
  }
  loaded_.push_back(std::move(result.plugin));
  return true;
}

std::vector<PluginInfo> PluginRegistry::plugins() const {
  std::vector<PluginInfo> out;
  for (const auto& p : loaded_) out.push_back(p->info);
  return out;
}

std::vector<BackendPlugin> PluginRegistry::backends() const {
  return wrap_kind<BackendPlugin>(loaded_, PluginKind::backend);
}
std::vector<FormatPlugin> PluginRegistry::formats() const {
  return wrap_kind<FormatPlugin>(loaded_, PluginKind::format);
}
std::vector<KvPolicyPlugin> PluginRegistry::kv_policies() const {
  return wrap_kind<KvPolicyPlugin>(loaded_, PluginKind::kv);
}

bool PluginRegistry::has(PluginKind kind, const std::string& name) const {
  return std::any_of(loaded_.begin(), loaded_.end(), [&](const auto& p) {
    return p->info.kind == kind && p->info.name == name;
  });
}

namespace {
template <class Wrapper>
Wrapper find_named(const std::vector<std::shared_ptr<detail::LoadedPlugin>>& loaded,
                   const std::vector<std::filesystem::path>& search_path, PluginKind kind,
                   const std::string& name) {
  std::string names;
  for (const auto& p : loaded) {
    if (p->info.kind != kind) continue;
    if (p->info.name == name) return Wrapper(p);
    names += (names.empty() ? "" : ", ") + p->info.name;
  }
  std::string dirs;
  for (const auto& d : search_path) dirs += (dirs.empty() ? "" : ":") + d.string();
  throw Error(std::string("no ") + plugin_kind_name(kind) + " plugin named '" + name +
                  "' was loaded (loaded: " + (names.empty() ? "none" : names) +
                  "; searched: " + dirs +
                  "); run `hearth plugins` to see what was found and why files were refused",
              HEARTH_ERR_UNSUPPORTED);
}
}  // namespace

BackendPlugin PluginRegistry::backend(const std::string& name) const {
  return find_named<BackendPlugin>(loaded_, search_path_, PluginKind::backend, name);
}
FormatPlugin PluginRegistry::format(const std::string& name) const {
  return find_named<FormatPlugin>(loaded_, search_path_, PluginKind::format, name);
}
KvPolicyPlugin PluginRegistry::kv_policy(const std::string& name) const {
  return find_named<KvPolicyPlugin>(loaded_, search_path_, PluginKind::kv, name);
}

std::optional<FormatPlugin> PluginRegistry::format_for(hearth_dtype dtype) const {
  for (const auto& p : loaded_) {
    if (p->info.kind != PluginKind::format) continue;
    FormatPlugin format(p);
    if (format.find(dtype)) return format;
  }
  return std::nullopt;
}

}  // namespace hearth

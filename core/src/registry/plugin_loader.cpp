#include "registry/plugin_loader.hpp"

#include <array>
#include <fstream>

namespace hearth::detail {
namespace {

std::string version_string(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

bool has_elf_header(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::array<char, 4> magic{};
  return in.read(magic.data(), magic.size()) && magic[0] == 0x7f && magic[1] == 'E' &&
         magic[2] == 'L' && magic[3] == 'F';
}

size_t api_size(hearth_plugin_kind kind) {
  switch (kind) {
    case HEARTH_KIND_BACKEND: return sizeof(hearth_backend_api);
    case HEARTH_KIND_FORMAT: return sizeof(hearth_format_api);
    case HEARTH_KIND_KV: return sizeof(hearth_kv_api);
  }
  return 0;
}

PluginKind to_kind(hearth_plugin_kind kind) {
  switch (kind) {
    case HEARTH_KIND_BACKEND: return PluginKind::backend;
    case HEARTH_KIND_FORMAT: return PluginKind::format;
    case HEARTH_KIND_KV: return PluginKind::kv;
  }
  return PluginKind::backend;
}

// The API table's first member is its struct_size in every kind.
uint32_t api_struct_size(const void* api) { return *static_cast<const uint32_t*>(api); }

LoadResult refuse(std::string reason) { return LoadResult{nullptr, std::move(reason)}; }

}  // namespace

LoadResult load_plugin_file(const std::filesystem::path& file,
                            const std::shared_ptr<detail::PluginHost>& host) {
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(file, fs_error))
    return refuse("not a regular file");
  if (!has_elf_header(file))
    return refuse("not a shared library (no ELF header); remove it from the plugin directory");

  auto plugin = std::make_shared<LoadedPlugin>();
  plugin->host = host;
  boost::dll::fs::error_code load_error;
  plugin->library.load(file.string(), boost::dll::load_mode::rtld_now |
                                          boost::dll::load_mode::rtld_local,
                       load_error);
  if (load_error) {
    std::string detail = load_error.message();
    return refuse("the dynamic loader refused it (" + detail +
                  "); check that its dependencies are installed (ldd " + file.string() + ")");
  }
  if (!plugin->library.has(HEARTH_PLUGIN_ENTRY_SYMBOL))
    return refuse(std::string("no entry point '") + HEARTH_PLUGIN_ENTRY_SYMBOL +
                  "': not a Hearth plugin, or built without a HEARTH_*_PLUGIN macro");

  auto entry = plugin->library.get<const hearth_plugin_descriptor*()>(HEARTH_PLUGIN_ENTRY_SYMBOL);
  const hearth_plugin_descriptor* d = entry();
  if (!d) return refuse(std::string(HEARTH_PLUGIN_ENTRY_SYMBOL) + " returned no descriptor");
  if (d->abi_major != HEARTH_ABI_MAJOR)
    return refuse("built for plugin contract " + version_string(d->abi_major, d->abi_minor) +
                  ", but this Hearth speaks contract " +
                  version_string(HEARTH_ABI_MAJOR, HEARTH_ABI_MINOR) +
                  "; rebuild the plugin against this Hearth's sdk");
  if (d->struct_size < sizeof(hearth_plugin_descriptor))
    return refuse("descriptor is " + std::to_string(d->struct_size) + " bytes, expected at least " +
                  std::to_string(sizeof(hearth_plugin_descriptor)) + "; rebuild the plugin");
  if (d->kind != HEARTH_KIND_BACKEND && d->kind != HEARTH_KIND_FORMAT && d->kind != HEARTH_KIND_KV)
    return refuse("unknown plugin kind " + std::to_string(static_cast<int>(d->kind)));
  if (!d->name || !*d->name) return refuse("descriptor has no name");
  if (!d->create || !d->destroy) return refuse("descriptor has no create/destroy functions");
  if (!d->api || api_struct_size(d->api) < api_size(d->kind))
    return refuse("its " + std::string(plugin_kind_name(to_kind(d->kind))) +
                  " function table is missing or too small; rebuild the plugin");

  plugin->descriptor = d;
  plugin->info = PluginInfo{to_kind(d->kind),
                            d->name,
                            d->version ? d->version : "",
                            d->description ? d->description : "",
                            file,
                            d->abi_major,
                            d->abi_minor};
  hearth_status* status = d->create(&host->api, &plugin->instance);
  if (status) {
    StatusPtr owned(status);
    plugin->instance = nullptr;
    return refuse("its factory failed: " + owned->message);
  }
  return LoadResult{std::move(plugin), {}};
}

}  // namespace hearth::detail

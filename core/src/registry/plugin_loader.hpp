// Opens one candidate file and checks it is a plugin this core can use.
#pragma once

#include "registry/host_context.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace hearth::detail {

struct LoadResult {
  std::shared_ptr<LoadedPlugin> plugin;  // set when accepted
  std::string refusal;                   // set when refused
};

// Never throws for a bad file: every problem becomes a refusal naming the file's fault.
LoadResult load_plugin_file(const std::filesystem::path& file,
                            const std::shared_ptr<detail::PluginHost>& host);

}  // namespace hearth::detail

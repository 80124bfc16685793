// What several commands share: where plugins are searched, and human-readable sizes.
#pragma once

#include <hearth/plugin_registry.hpp>

#include <cstdint>
#include <string>

#include "args.hpp"

namespace hearth::cli {

// Declares --plugin-path and --config on a command.
void add_plugin_options(Args& args);
// The registry as those options (then $HEARTH_PLUGIN_PATH, then the default) say.
RegistryOptions registry_options(const Args& args);

std::string format_bytes(uint64_t bytes);

}  // namespace hearth::cli

// What several commands share: where plugins are searched, and human-readable sizes.
#pragma once

#include <hearth/config.hpp>
#include <hearth/plugin_registry.hpp>

#include <cstdint>
#include <string>

#include "args.hpp"

namespace hearth::cli {

// Declares --plugin-path and --config on a command.
void add_plugin_options(Args& args);
// The --config file's settings, or the built-in defaults without one.
Config cli_config(const Args& args);
// The registry as --plugin-path, then the config's runtime.plugin_path, then $HEARTH_PLUGIN_PATH,
// then the default say.
RegistryOptions registry_options(const Args& args);

std::string format_bytes(uint64_t bytes);

}  // namespace hearth::cli

#include "common.hpp"

#include <cstdio>
#include <sstream>

namespace hearth::cli {

void add_plugin_options(Args& args) {
  args.option("plugin-path", "", "DIRS",
              "colon-separated plugin directories, searched before $HEARTH_PLUGIN_PATH and the "
              "default")
      .option("config", "", "FILE", "a TOML config (devices, plugin path, threads, context)");
}

Config cli_config(const Args& args) {
  if (auto file = args.find("config")) return load_config_file(*file);
  return default_config();
}

RegistryOptions registry_options(const Args& args) {
  RegistryOptions options;
  if (auto dirs = args.find("plugin-path")) {
    std::stringstream in(*dirs);
    std::string dir;
    while (std::getline(in, dir, ':'))
      if (!dir.empty()) options.search_path.emplace_back(dir);
  }
  if (args.has("config")) {
    for (const auto& dir : cli_config(args).runtime.plugin_path) options.search_path.push_back(dir);
  }
  return options;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) value /= 1024.0, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return text;
}

}  // namespace hearth::cli

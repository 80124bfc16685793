// `hearth plugins`: every plugin found, and every file refused with the reason.
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"

namespace hearth::cli {

int cmd_plugins(const Argv& argv) {
  Args args("plugins", "List the plugins found on the plugin path and the files refused.");
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;

  PluginRegistry registry(registry_options(args));
  std::cout << "Plugin search path:\n";
  for (const auto& dir : registry.search_path()) {
    std::error_code ec;
    std::cout << "  " << dir.string()
              << (std::filesystem::is_directory(dir, ec) ? "" : "  (not found)") << "\n";
  }
  const auto plugins = registry.plugins();
  std::cout << "\nLoaded plugins (" << plugins.size() << "):\n";
  if (!plugins.empty())
    std::cout << "  " << std::left << std::setw(9) << "KIND" << std::setw(18) << "NAME"
              << std::setw(10) << "VERSION" << "FILE\n";
  for (const auto& p : plugins)
    std::cout << "  " << std::left << std::setw(9) << plugin_kind_name(p.kind) << std::setw(18)
              << p.name << std::setw(10) << p.version << p.file.string() << "\n"
              << "  " << std::string(37, ' ') << p.description << "\n";
  const auto& refused = registry.refused();
  std::cout << "\nRefused files (" << refused.size() << "):\n";
  for (const auto& r : refused) std::cout << "  " << r.file.string() << "\n      " << r.reason << "\n";
  return 0;
}

}  // namespace hearth::cli

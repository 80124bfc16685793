#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sections.hpp"

namespace hearth {
namespace {

using config_detail::default_device;
using config_detail::expect_table;
using config_detail::kBuiltInSource;
using config_detail::read_devices;
using config_detail::read_runtime;
using config_detail::TableReader;

constexpr std::array<std::string_view, 2> kTopKeys{"runtime", "device"};

std::string lower_first(std::string_view text) {
  std::string out(text);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z')
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  return out;
}

}  // namespace

Config default_config() {
  Config config;
  config.source_name = kBuiltInSource;
  config.devices.push_back(default_device());
  return config;
}

Config parse_config(std::string_view text, std::string source_name,
                    const std::filesystem::path& base_dir) {
  if (source_name.empty()) source_name = "<config>";
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& error) {
    throw ConfigError(config_detail::to_location(error.source(), source_name), "",
                      "malformed TOML: " + lower_first(error.description()),
                      "fix the syntax here (TOML is described at https://toml.io)");
  }
  Config config;
  config.source_name = source_name;
  const TableReader top(root, "", config.source_name);
  top.reject_unknown_keys(kTopKeys, "the top level");
  if (const toml::node* runtime = top.find("runtime")) {
    const auto& table = expect_table(top, "runtime", *runtime, "[runtime] with threads = 8 below");
    config.runtime = read_runtime(TableReader(table, "runtime", config.source_name), base_dir);
  }
  if (const toml::node* devices = top.find("device")) {
    config.devices = read_devices(top, *devices);
  } else {
    config.devices.push_back(default_device());
  }
  return config;
}

Config load_config_file(const std::filesystem::path& path) {
  const SourceLocation where{path.string(), 0, 0};
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw ConfigError(where, "", "is a directory, not a config file",
                      "name a .toml file (configs/ has examples)");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError(where, "",
                      std::string("cannot open the config file: ") + std::strerror(errno),
                      "check the path (configs/ has examples)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw ConfigError(where, "", "cannot read the config file",
                      "check the file and its permissions");
  const std::filesystem::path base_dir = std::filesystem::absolute(path, error).parent_path();
  Config config = parse_config(text.str(), path.string(), base_dir);
  config.source = path;
  return config;
}

}  // namespace hearth

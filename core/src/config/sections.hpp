// Readers for the config's sections; each checks its keys and values and throws ConfigError.
#pragma once

#include <hearth/config.hpp>

#include <filesystem>
#include <string_view>
#include <vector>

#include "toml_reader.hpp"

namespace hearth::config_detail {

inline constexpr const char* kBuiltInSource = "<built-in defaults>";

// The [runtime] table. Relative plugin_path entries are joined to base_dir unless it is empty.
RuntimeConfig read_runtime(const TableReader& runtime, const std::filesystem::path& base_dir);

// The top-level 'device' key: an array of [[device]] tables, at most one of which takes "rest".
std::vector<DeviceConfig> read_devices(const TableReader& root, const toml::node& node);

// The built-in device: the CPU with every layer.
DeviceConfig default_device();

// node as a table, or a type error for key in parent.
const toml::table& expect_table(const TableReader& parent, std::string_view key,
                                const toml::node& node, std::string_view example);

}  // namespace hearth::config_detail

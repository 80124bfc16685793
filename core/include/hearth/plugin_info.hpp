// What the registry knows about a plugin it loaded, or a file it refused.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace hearth {

enum class PluginKind { backend, format, kv };

const char* plugin_kind_name(PluginKind kind) noexcept;

struct PluginInfo {
  PluginKind kind;
  std::string name;
  std::string version;
  std::string description;
  std::filesystem::path file;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
};

struct RefusedPlugin {
  std::filesystem::path file;
  std::string reason;
};

}  // namespace hearth

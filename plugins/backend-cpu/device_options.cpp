#include "device_options.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "f32_gemm.hpp"
#include "op_profile.hpp"

namespace hearth::backend_cpu {
namespace {

using sdk::PluginError;

constexpr std::array<std::string_view, 3> kKnownKeys = {"threads", "onednn", "profile"};

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

[[noreturn]] void unknown_key(const std::string& key) {
  std::string message = "cpu: unknown device option '" + key + "'";
  for (auto known : kKnownKeys)
    if (edit_distance(key, known) <= 2) {
      message += " (did you mean '" + std::string(known) + "'?)";
      break;
    }
  message += "; the cpu device takes: threads, onednn, profile";
  throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, message);
}

bool parse_switch(const std::string& key, const std::string& value) {
  if (value == "on" || value == "true" || value == "1") return true;
  if (value == "off" || value == "false" || value == "0") return false;
  throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                    "cpu: option '" + key + "' must be on or off, got '" + value + "'");
}

}  // namespace

DeviceOptions parse_device_options(const sdk::Options& options, unsigned default_threads) {
  for (const auto& [key, value] : options.items())
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), key) == kKnownKeys.end()) unknown_key(key);

  DeviceOptions out;
  const long long threads = options.get_int("threads", 0);
  if (threads < 0 || threads > kMaxThreads)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "cpu: option 'threads' must be 0 (one per physical core) to " +
                          std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  out.threads = threads == 0 ? std::max(1u, default_threads) : static_cast<unsigned>(threads);

  out.use_onednn = onednn_available();
  if (auto value = options.get("onednn")) {
    out.use_onednn = parse_switch("onednn", *value);
    if (out.use_onednn && !onednn_available())
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "cpu: option 'onednn' is on, but this build of the cpu backend has no "
                        "oneDNN (configure with -DHEARTH_BACKEND_CPU_ONEDNN=ON and libdnnl-dev)");
  }
  out.profile = profile_requested_by_environment();
  if (auto value = options.get("profile")) out.profile = parse_switch("profile", *value);
  return out;
}

}  // namespace hearth::backend_cpu

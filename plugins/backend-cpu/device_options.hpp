// The options open_device takes for the "cpu" device, validated with errors that name the key.
#pragma once

#include <hearth/sdk/plugin.hpp>

namespace hearth::backend_cpu {

struct DeviceOptions {
  unsigned threads = 1;  // resolved: never 0
  bool use_onednn = false;
  bool profile = false;  // time every op and print the table when the device closes
};

inline constexpr unsigned kMaxThreads = 1024;

// threads: 0 or absent = default_threads; 1..kMaxThreads otherwise.
// onednn: "on"/"off" (also true/false/1/0); absent = on when the build has oneDNN.
// profile: on/off; absent = HEARTH_CPU_PROFILE from the environment (op_profile.hpp).
// Any other key is an error that lists the known ones.
DeviceOptions parse_device_options(const sdk::Options& options, unsigned default_threads);

}  // namespace hearth::backend_cpu

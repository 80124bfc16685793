// What the CPU device reports about the machine, read from /proc and /sys. The parsers take
// text so tests can feed them fixtures; the readers fall back to portable answers when a file
// is missing (containers, non-Linux).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::backend_cpu {

// The first "model name" (x86), "Processor"/"cpu model" or "Hardware" value in /proc/cpuinfo text.
std::optional<std::string> parse_cpu_model(std::string_view cpuinfo);

struct MemoryInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
};
// MemTotal and MemAvailable (falling back to MemFree + Cached) from /proc/meminfo text, in bytes.
std::optional<MemoryInfo> parse_meminfo(std::string_view meminfo);

// A kernel CPU list such as "0-3,8,10-11" (as in /sys/devices/system/cpu/online); nullopt if
// malformed.
std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view list);

// Counts distinct (physical_package_id, core_id) pairs given per logical CPU.
unsigned count_physical_cores(const std::vector<std::pair<int, int>>& package_and_core);

struct SystemInfo {
  std::string cpu_model;
  MemoryInfo memory;
  unsigned online_cpus = 1;     // logical CPUs online
  unsigned physical_cores = 1;  // distinct cores among the CPUs this process may run on
  unsigned usable_cpus = 1;     // logical CPUs in this process's affinity mask
};
SystemInfo read_system_info();

// Threads a device uses when the "threads" option is 0 or absent: one per physical core this
// process may run on (hyper-threads share a core's FPUs, so they add little to these kernels).
unsigned default_thread_count(const SystemInfo& info);

}  // namespace hearth::backend_cpu

#include "system_info.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#include <unistd.h>
#endif

namespace hearth::backend_cpu {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// Calls fn(key, value) for each "key: value" line.
template <class Fn>
void for_each_field(std::string_view text, Fn fn) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fn(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<int> read_int_file(const std::string& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  auto v = parse_u64(trim(*text));
  if (!v || *v > 1u << 30) return std::nullopt;
  return static_cast<int>(*v);
}

std::vector<unsigned> affinity_cpus() {
  std::vector<unsigned> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  return cpus;
}

}  // namespace

std::optional<std::string> parse_cpu_model(std::string_view cpuinfo) {
  std::optional<std::string> model;
  std::optional<std::string> fallback;
  for_each_field(cpuinfo, [&](std::string_view key, std::string_view value) {
    if (value.empty()) return;
    if (!model && (key == "model name" || key == "cpu model" || key == "Processor"))
      model = std::string(value);
    if (!fallback && key == "Hardware") fallback = std::string(value);
  });
  return model ? model : fallback;
}

std::optional<MemoryInfo> parse_meminfo(std::string_view meminfo) {
  std::optional<uint64_t> total, available, free, cached;
  for_each_field(meminfo, [&](std::string_view key, std::string_view value) {
    // Values read "16318480 kB".
    const auto space = value.find(' ');
    const auto number = parse_u64(value.substr(0, space));
    if (!number) return;
    const uint64_t bytes = *number * 1024;
    if (key == "MemTotal") total = bytes;
    if (key == "MemAvailable") available = bytes;
    if (key == "MemFree") free = bytes;
    if (key == "Cached") cached = bytes;
  });
  if (!total) return std::nullopt;
  if (!available && free) available = *free + cached.value_or(0);
  return MemoryInfo{*total, std::min(available.value_or(0), *total)};
}

std::optional<std::vector<unsigned>> parse_cpu_list(std::string_view list) {
  std::vector<unsigned> cpus;
  list = trim(list);
  if (list.empty()) return std::nullopt;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    const auto dash = item.find('-');
    const auto first = parse_u64(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_u64(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last >= 1u << 16) return std::nullopt;
    for (uint64_t c = *first; c <= *last; ++c) cpus.push_back(static_cast<unsigned>(c));
  }
  return cpus;
}

unsigned count_physical_cores(const std::vector<std::pair<int, int>>& package_and_core) {
  const std::set<std::pair<int, int>> distinct(package_and_core.begin(), package_and_core.end());
  return static_cast<unsigned>(distinct.size());
}

SystemInfo read_system_info() {
  SystemInfo info;
  if (auto text = read_file("/proc/cpuinfo")) info.cpu_model = parse_cpu_model(*text).value_or("");
  if (info.cpu_model.empty()) info.cpu_model = "unknown CPU";
  if (auto text = read_file("/proc/meminfo"))
    info.memory = parse_meminfo(*text).value_or(MemoryInfo{});

  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  std::optional<std::vector<unsigned>> online;
  if (auto text = read_file("/sys/devices/system/cpu/online")) online = parse_cpu_list(*text);
  info.online_cpus = online ? static_cast<unsigned>(online->size()) : hardware;

  std::vector<unsigned> usable = affinity_cpus();
  if (usable.empty() && online) usable = *online;
  info.usable_cpus = usable.empty() ? hardware : static_cast<unsigned>(usable.size());

  std::vector<std::pair<int, int>> cores;
  for (unsigned cpu : usable) {
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    auto package = read_int_file(dir + "physical_package_id");
    auto core = read_int_file(dir + "core_id");
    if (!package || !core) {
      cores.clear();
      break;
    }
    cores.emplace_back(*package, *core);
  }
  info.physical_cores = cores.empty() ? info.usable_cpus : count_physical_cores(cores);
  return info;
}

unsigned default_thread_count(const SystemInfo& info) {
  return std::max(1u, std::min(info.physical_cores, info.usable_cpus));
}

}  // namespace hearth::backend_cpu

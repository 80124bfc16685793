#include "file_mapping.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace hearth::backend_cpu {
namespace {

bool parse_hex(std::string_view text, uint64_t& value) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

// Splits off the next space-separated field of line.
std::string_view next_field(std::string_view& line) {
  const size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) return line = {};
  line.remove_prefix(start);
  const size_t end = std::min(line.find(' '), line.size());
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

}  // namespace

bool in_read_only_file_mapping(std::string_view maps, const void* begin, uint64_t bytes) {
  const auto first = reinterpret_cast<uintptr_t>(begin);
  while (!maps.empty()) {
    const size_t eol = std::min(maps.find('\n'), maps.size());
    std::string_view line = maps.substr(0, eol);
    maps.remove_prefix(std::min(eol + 1, maps.size()));
    // start-end perms offset dev inode [path]
    const std::string_view range = next_field(line);
    const std::string_view perms = next_field(line);
    next_field(line);  // offset
    next_field(line);  // device
    const std::string_view inode = next_field(line);
    const size_t dash = range.find('-');
    uint64_t start = 0, end = 0;
    if (dash == std::string_view::npos || !parse_hex(range.substr(0, dash), start) ||
        !parse_hex(range.substr(dash + 1), end))
      continue;
    if (first < start || first >= end) continue;
    return perms == "r--p" && !inode.empty() && inode != "0" && bytes <= end - first;
  }
  return false;
}

bool in_read_only_file_mapping(const void* begin, uint64_t bytes) {
  std::ifstream in("/proc/self/maps");
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  return in_read_only_file_mapping(text.str(), begin, bytes);
}

uint64_t release_file_pages(const void* begin, uint64_t bytes) {
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const auto page = static_cast<uintptr_t>(page_size > 0 ? page_size : 4096);
  const auto first = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t start = (first + page - 1) / page * page;
  const uintptr_t end = (first + bytes) / page * page;
  if (end <= start) return 0;
  // A hint: when the kernel declines, the pages simply stay resident.
  if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED) != 0) return 0;
  return end - start;
}

}  // namespace hearth::backend_cpu

// Whether a byte range lies in a read-only private file mapping (how GGUF weights reach the cpu
// backend: used in place from the model file), and releasing such a range's pages. Releasing is
// only safe there: the pages were never written, so dropping them loses nothing and a later read
// faults them back in from the file; on anonymous or written memory it would lose data.
#pragma once

#include <cstdint>
#include <string_view>

namespace hearth::backend_cpu {

// True when [begin, begin + bytes) lies inside one "r--p" mapping of a file in `maps` (the text
// of /proc/<pid>/maps).
bool in_read_only_file_mapping(std::string_view maps, const void* begin, uint64_t bytes);
// The same for this process; false when /proc/self/maps cannot be read.
bool in_read_only_file_mapping(const void* begin, uint64_t bytes);

// Drops this process's pages wholly inside the range (madvise MADV_DONTNEED); returns the bytes
// released. Call only on a range in_read_only_file_mapping() accepted.
uint64_t release_file_pages(const void* begin, uint64_t bytes);

}  // namespace hearth::backend_cpu

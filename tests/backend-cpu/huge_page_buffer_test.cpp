// HugePageBuffer (plugins/backend-cpu/huge_page_buffer.hpp): the interleaved weight copies'
// memory. Whether the kernel backs it with huge pages depends on the machine's transparent huge
// page setting, so these tests check what holds everywhere: the data starts on a 2 MiB boundary,
// every byte is writable and keeps its value, and ownership moves with the object.
#include "huge_page_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <utility>

namespace hearth::backend_cpu {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

void fill(char* p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 131 + seed) & 0xFF);
}

size_t mismatches(const char* p, size_t n, unsigned seed) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += p[i] != static_cast<char>((i * 131 + seed) & 0xFF);
  return bad;
}

TEST(HugePageBuffer, StartsOnAHugePageAndHoldsEveryByte) {
  for (size_t bytes : {size_t{1}, size_t{4096}, kHugePage, 5 * kHugePage + 123}) {
    SCOPED_TRACE(bytes);
    HugePageBuffer buffer(bytes);
    ASSERT_NE(buffer.get(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.get()) % kHugePage, 0u);
    fill(buffer.get(), bytes, 7);
    EXPECT_EQ(mismatches(buffer.get(), bytes, 7), 0u);
  }
}

TEST(HugePageBuffer, MovesOwnership) {
  const size_t bytes = 3 * kHugePage + 5;
  HugePageBuffer a(bytes);
  fill(a.get(), bytes, 1);
  char* const data = a.get();
  HugePageBuffer b(std::move(a));
  EXPECT_EQ(a.get(),
            nullptr);  // the moved-from state is the point
  EXPECT_EQ(b.get(), data);
  HugePageBuffer c(kHugePage);
  c = std::move(b);  // c's own mapping is released, b's moves in
  EXPECT_EQ(b.get(), nullptr);
  ASSERT_EQ(c.get(), data);
  EXPECT_EQ(mismatches(c.get(), bytes, 1), 0u);
  HugePageBuffer empty;
  EXPECT_EQ(empty.get(), nullptr);
}

}  // namespace
}  // namespace hearth::backend_cpu

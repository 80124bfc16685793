// `q8` / `q4`: every slot at one bit width, the `recent` newest at 16, nothing evicted.
#include "kv_policy_driver.hpp"

#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

std::vector<int> bits_by_position(const SlotCache& cache, int32_t n) {
  std::vector<int> out;
  for (int32_t p = 0; p < n; ++p) out.push_back(cache.bits_at(p));
  return out;
}

TEST(UniformQuantizationPolicy, Q8PutsEverySlotAtEightBitsAndNeverEvicts) {
  PolicyUnderTest policy("q8");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 4);
  cache.observe_uniform(4);
  const auto evict = cache.decide(budget_of(slot16()));  // over budget: still no eviction
  for (uint8_t e : evict) EXPECT_EQ(e, 0);
  EXPECT_EQ(bits_by_position(cache, 5), (std::vector<int>{8, 8, 8, 8, 8}));
}

TEST(UniformQuantizationPolicy, Q4KeepsTheRecentTokensAtSixteenBits) {
  PolicyUnderTest policy("q4");
  auto session = policy.open({{"recent", "2"}});
  SlotCache cache(*session);
  cache.append_range(0, 4);
  cache.positions() = {3, 0, 4, 1, 2};
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 5), (std::vector<int>{4, 4, 4, 16, 16}));
  // A step later position 3 left the recent window and is demoted.
  cache.append(5);
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 6), (std::vector<int>{4, 4, 4, 4, 16, 16}));
}

TEST(UniformQuantizationPolicy, NeverRaisesASlotsPrecision) {
  PolicyUnderTest policy("q8");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 2);
  cache.set_bits(1, 2);
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 3), (std::vector<int>{8, 2, 8}));
}

}  // namespace
}  // namespace hearth::kv_test

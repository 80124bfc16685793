// `full`: the uncompressed baseline.
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

TEST(FullPolicy, NeverEvictsAndKeepsSixteenBitsEvenOverBudget) {
  PolicyUnderTest policy("full");
  auto session = policy.open();
  EXPECT_EQ(session->stats_per_slot(), 0u);
  SlotCache cache(*session);
  cache.append_range(0, 9);
  for (int32_t row = 0; row <= 9; ++row) cache.observe_uniform(row);
  const auto evict = cache.decide(budget_of(2 * slot16()));  // room for 2 of 10
  for (size_t i = 0; i < cache.size(); ++i) {
    EXPECT_EQ(evict[i], 0) << "slot " << i;
    EXPECT_EQ(cache.view().bits[i], 16) << "slot " << i;
  }
}

TEST(FullPolicy, TakesNoOptions) {
  PolicyUnderTest policy("full");
  EXPECT_THAT(
      [&] {
        policy.open({{"recent", "4"}});
      },
      ::testing::ThrowsMessage<Error>(
          ::testing::AllOf(::testing::HasSubstr("kv policy 'full'"),
                           ::testing::HasSubstr("unknown option 'recent' = '4'"),
                           ::testing::HasSubstr("accepts no options"))));
}

}  // namespace
}  // namespace hearth::kv_test

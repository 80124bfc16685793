// `window` (StreamingLLM): attention sinks + the newest tokens that fit.
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WindowPolicy, KeepsTheSinksAndTheNewestThatFit) {
  PolicyUnderTest policy("window");
  auto session = policy.open();  // sinks = 4
  SlotCache cache(*session);
  cache.append_range(0, 11);
  cache.positions() = {5, 0, 9, 1, 7, 3, 11, 2, 10, 4, 8, 6};  // compacted: any order
  EXPECT_THAT(cache.evicted_positions(budget_of(6 * slot16() + slot16() - 1)),
              ElementsAre(4, 5, 6, 7, 8, 9));
}

TEST(WindowPolicy, SlidesStepByStepWithCompaction) {
  PolicyUnderTest policy("window");
  auto session = policy.open({{"sinks", "2"}});
  SlotCache cache(*session);
  const auto budget = budget_of(5 * slot16());
  for (int32_t pos = 0; pos < 40; ++pos) {
    cache.append(pos);
    cache.observe_uniform(pos);
    cache.step(budget);
    EXPECT_LE(cache.size(), 5u);
  }
  EXPECT_THAT(cache.sorted_positions(), ElementsAre(0, 1, 37, 38, 39));
  for (int32_t pos : {0, 1, 37, 38, 39}) EXPECT_EQ(cache.bits_at(pos), 16);
}

TEST(WindowPolicy, SinksNeverCrowdOutTheNewestToken) {
  PolicyUnderTest policy("window");
  auto session = policy.open({{"sinks", "4"}});
  SlotCache cache(*session);
  cache.append_range(0, 9);
  // Room for 3: the newest token stays, sinks take the other 2 places.
  EXPECT_THAT(cache.evicted_positions(budget_of(3 * slot16())), ElementsAre(2, 3, 4, 5, 6, 7, 8));
}

TEST(WindowPolicy, ABudgetWithoutRoomForOneSlotIsAnError) {
  PolicyUnderTest policy("window");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 3);
  EXPECT_THAT([&] { cache.decide(budget_of(slot16() - 1)); },
              ::testing::ThrowsMessage<Error>(HasSubstr("holds no full-precision slot")));
}

}  // namespace
}  // namespace hearth::kv_test

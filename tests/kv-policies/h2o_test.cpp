// `h2o`: accumulated attention (column sums) + a recent window, evicting per KV head.
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

using ::testing::ElementsAre;

TEST(H2oPolicy, ScoresAreColumnSumsOfTheAttentionMatrix) {
  PolicyUnderTest policy("h2o");
  auto session = policy.open();
  ASSERT_EQ(session->stats_per_slot(), 1u);
  SlotCache cache(*session);
  cache.append_range(0, 3);
  cache.observe_by_position(0, {{0, 1.0f}});
  cache.observe_by_position(1, {{0, 0.6f}, {1, 0.4f}});
  cache.observe_by_position(2, {{0, 0.5f}, {1, 0.2f}, {2, 0.3f}});
  cache.observe_by_position(3, {{0, 0.4f}, {1, 0.1f}, {2, 0.1f}, {3, 0.4f}});
  EXPECT_NEAR(cache.stats_at(0)[0], 2.5, 1e-6);
  EXPECT_NEAR(cache.stats_at(1)[0], 0.7, 1e-6);
  EXPECT_NEAR(cache.stats_at(2)[0], 0.4, 1e-6);
  EXPECT_NEAR(cache.stats_at(3)[0], 0.4, 1e-6);
}

TEST(H2oPolicy, UniformAttentionFavoursEarlyTokens) {
  // The bias seed 003 corrects: column sums of a uniform causal matrix are sum_{i>=j} 1/i.
  PolicyUnderTest policy("h2o");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 7);
  for (int32_t row = 0; row <= 7; ++row) cache.observe_uniform(row);
  for (int32_t j = 0; j <= 7; ++j) {
    double expected = 0.0;
    for (int32_t i = j; i <= 7; ++i) expected += 1.0 / (i + 1);
    EXPECT_NEAR(cache.stats_at(j)[0], expected, 1e-6) << "position " << j;
    if (j > 0) {
      EXPECT_GT(cache.stats_at(j - 1)[0], cache.stats_at(j)[0]);
    }
  }
}

TEST(H2oPolicy, EvictsTheLowestScoreOutsideTheRecentWindow) {
  PolicyUnderTest policy("h2o");
  auto session = policy.open({{"recent", "0.5"}});  // budget 4 = 2 heavy + 2 recent
  SlotCache cache(*session);
  cache.append_range(0, 4);
  cache.observe_by_position(4, {{0, 0.30f}, {1, 0.05f}, {2, 0.20f}, {3, 0.01f}, {4, 0.44f}});
  // Position 3 has the lowest score but is in the recent window {3, 4}.
  EXPECT_THAT(cache.evicted_positions(budget_of(4 * slot16())), ElementsAre(1));
}

TEST(H2oPolicy, ATokenEnteringTheHeavyRegionKeepsItsScore) {
  PolicyUnderTest policy("h2o");
  auto session = policy.open({{"recent", "0.5"}});
  SlotCache cache(*session);
  const auto budget = budget_of(4 * slot16());
  cache.append_range(0, 3);
  cache.observe_by_position(0, {{0, 1.0f}});
  cache.observe_by_position(1, {{0, 0.6f}, {1, 0.4f}});
  cache.observe_by_position(2, {{0, 0.5f}, {1, 0.2f}, {2, 0.3f}});
  cache.observe_by_position(3, {{0, 0.4f}, {1, 0.1f}, {2, 0.1f}, {3, 0.4f}});
  cache.step(budget);
  EXPECT_EQ(cache.size(), 4u);

  cache.append(4);
  cache.observe_by_position(4, {{0, 0.3f}, {1, 0.1f}, {2, 0.1f}, {3, 0.4f}, {4, 0.1f}});
  cache.step(budget);  // scores 2.8 .8 .5 | .8 .1 (recent): 2 goes
  EXPECT_THAT(cache.sorted_positions(), ElementsAre(0, 1, 3, 4));

  cache.append(5);
  cache.observe_by_position(5, {{0, 0.3f}, {1, 0.05f}, {3, 0.3f}, {4, 0.05f}, {5, 0.3f}});
  // 3 left the recent window {4, 5} with 1.1 accumulated (0.8 of it earned while recent), so
  // 1 (0.85) goes; had its score restarted on leaving the window (0.3) it would have gone.
  cache.step(budget);
  EXPECT_THAT(cache.sorted_positions(), ElementsAre(0, 3, 4, 5));
  EXPECT_NEAR(cache.stats_at(3)[0], 1.1, 1e-6);
  EXPECT_NEAR(cache.stats_at(0)[0], 3.1, 1e-6);
}

TEST(H2oPolicy, GqaScoresAreTheSumOverTheGroupsQueryHeads) {
  // Core sums the group's query heads into the mass; the policy ranks by that sum. Head a alone
  // would evict position 2, head b alone position 0; the sum (.6, .5, .9) evicts position 1.
  PolicyUnderTest policy("h2o");
  auto session = policy.open({{"recent", "0"}});
  SlotCache cache(*session, 2);
  cache.append_range(0, 2);
  const std::vector<float> head_a = {0.6f, 0.3f, 0.1f};
  const std::vector<float> head_b = {0.0f, 0.2f, 0.8f};
  std::vector<float> mass(3);
  for (size_t i = 0; i < 3; ++i) mass[i] = head_a[i] + head_b[i];
  cache.observe(2, mass);
  EXPECT_THAT(cache.evicted_positions(budget_of(2 * slot16())), ElementsAre(1));
}

TEST(H2oPolicy, WithoutARecentWindowTheNewestLowScoreTokenGoes) {
  // The matrix of the bias-window test: plain column sums (1.8, 1.2, .7, .3) drop the newest
  // token, where the bias-corrected importance drops the oldest (BiasWindowPolicy test).
  PolicyUnderTest policy("h2o");
  auto session = policy.open({{"recent", "0"}});
  SlotCache cache(*session);
  cache.append_range(0, 3);
  cache.observe_by_position(0, {{0, 1.0f}});
  cache.observe_by_position(1, {{0, 0.5f}, {1, 0.5f}});
  cache.observe_by_position(2, {{0, 0.2f}, {1, 0.4f}, {2, 0.4f}});
  cache.observe_by_position(3, {{0, 0.1f}, {1, 0.3f}, {2, 0.3f}, {3, 0.3f}});
  EXPECT_THAT(cache.evicted_positions(budget_of(3 * slot16())), ElementsAre(3));
}

TEST(H2oPolicy, AFullRecentShareIsASlidingWindow) {
  PolicyUnderTest policy("h2o");
  auto session = policy.open({{"recent", "1"}});
  SlotCache cache(*session);
  cache.append_range(0, 5);
  cache.observe_by_position(5, {{0, 0.9f}, {5, 0.1f}});
  EXPECT_THAT(cache.evicted_positions(budget_of(3 * slot16())), ElementsAre(0, 1, 2));
}

}  // namespace
}  // namespace hearth::kv_test

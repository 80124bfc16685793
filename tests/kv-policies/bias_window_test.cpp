// `bias-window`: seed 003's bias-corrected, windowed importance (spec §5.1/5.2).
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tuple>

namespace hearth::kv_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// I_j from the documented stats layout (docs/kv-policies.md): ring = [rows, W contributions],
// ema = [S, c]; no row yet -> 1.
double importance(const SlotCache& cache, int32_t position, uint32_t window, bool ema) {
  const float* s = cache.stats_at(position);
  if (ema) return s[1] > 0 ? s[0] / s[1] : 1.0;
  double sum = 0.0;
  for (uint32_t r = 0; r < window; ++r) sum += s[1 + r];
  const double rows = std::min<double>(s[0], window);
  return rows > 0 ? sum / rows : 1.0;
}

// (n_query_heads, forget)
class UniformAttention : public ::testing::TestWithParam<std::tuple<uint32_t, std::string>> {};

TEST_P(UniformAttention, GivesImportanceOneForEveryTokenEvenAfterPruning) {
  const auto [heads, forget] = GetParam();
  const bool ema = forget == "ema";
  PolicyUnderTest policy("bias-window");
  auto session = policy.open({{"window", "4"}, {"forget", forget}});
  EXPECT_EQ(session->stats_per_slot(), ema ? 2u : 5u);
  SlotCache cache(*session, heads);
  cache.append_range(0, 9);
  for (int32_t row = 0; row <= 9; ++row) cache.observe_uniform(row);
  for (int32_t j = 0; j <= 9; ++j)
    EXPECT_NEAR(importance(cache, j, 4, ema), 1.0, 1e-6) << "position " << j;

  // Decode under a budget of 6: the uniform level is 1/m over the slots left, so I stays 1.
  const auto budget = budget_of(6 * slot16());
  cache.step(budget);
  for (int32_t pos = 10; pos < 40; ++pos) {
    cache.append(pos);
    cache.observe_uniform(pos);
    cache.step(budget);
  }
  EXPECT_EQ(cache.size(), 6u);
  for (int32_t pos : cache.sorted_positions())
    EXPECT_NEAR(importance(cache, pos, 4, ema), 1.0, 1e-6) << "position " << pos;
}

INSTANTIATE_TEST_SUITE_P(BiasWindowPolicy, UniformAttention,
                         ::testing::Combine(::testing::Values(1u, 2u),
                                            ::testing::Values("ring", "ema")));

// The matrix where plain column sums (H2O: 1.8, 1.2, .7, .3) favour the oldest token. Bias
// corrected, row i weighted by the i + 1 keys it saw: I = (1+1+.6+.4)/4, (1+1.2+1.2)/3, 1.2, 1.2.
void observe_early_bias_matrix(SlotCache& cache) {
  cache.observe_by_position(0, {{0, 1.0f}});
  cache.observe_by_position(1, {{0, 0.5f}, {1, 0.5f}});
  cache.observe_by_position(2, {{0, 0.2f}, {1, 0.4f}, {2, 0.4f}});
  cache.observe_by_position(3, {{0, 0.1f}, {1, 0.3f}, {2, 0.3f}, {3, 0.3f}});
}

TEST(BiasWindowPolicy, CorrectedImportanceEvictsTheOverCountedEarlyToken) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 3);
  observe_early_bias_matrix(cache);
  EXPECT_NEAR(importance(cache, 0, 32, false), 0.75, 1e-6);
  EXPECT_NEAR(importance(cache, 1, 32, false), 3.4 / 3, 1e-6);
  EXPECT_NEAR(importance(cache, 2, 32, false), 1.2, 1e-6);
  EXPECT_NEAR(importance(cache, 3, 32, false), 1.2, 1e-6);
  EXPECT_THAT(cache.evicted_positions(budget_of(3 * slot16())), ElementsAre(0));
}

TEST(BiasWindowPolicy, GqaMassIsNormalizedByTheGroupSize) {
  // Two query heads: mass .9 + .5 on position 0 of 2 visible keys -> 2 * 1.4 / 2 = 1.4.
  PolicyUnderTest policy("bias-window");
  auto session = policy.open();
  SlotCache cache(*session, 2);
  cache.append_range(0, 1);
  cache.observe(1, {1.4f, 0.6f});
  EXPECT_NEAR(importance(cache, 0, 32, false), 1.4, 1e-6);
  EXPECT_NEAR(importance(cache, 1, 32, false), 0.6, 1e-6);
}

TEST(BiasWindowPolicy, RingDropsRowsOlderThanTheWindowExactly) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open({{"window", "2"}});
  SlotCache cache(*session);
  cache.append_range(0, 2);
  cache.observe_by_position(0, {{0, 1.0f}});             // slot 0: 1
  cache.observe_by_position(1, {{0, 0.9f}, {1, 0.1f}});  // 1.8, .2
  EXPECT_NEAR(importance(cache, 0, 2, false), (1.0 + 1.8) / 2, 1e-6);
  cache.observe_by_position(2, {{0, 0.2f}, {1, 0.4f}, {2, 0.4f}});     // .6, 1.2, 1.2
  EXPECT_NEAR(importance(cache, 0, 2, false), (1.8 + 0.6) / 2, 1e-6);  // row 0 is gone
  EXPECT_NEAR(importance(cache, 1, 2, false), (0.2 + 1.2) / 2, 1e-6);
  // W uniform rows later nothing of the spikes is left: exactly the uniform level.
  cache.append_range(3, 4);
  cache.observe_uniform(3);
  cache.observe_uniform(4);
  for (int32_t j = 0; j <= 4; ++j)
    EXPECT_NEAR(importance(cache, j, 2, false), 1.0, 1e-6) << "position " << j;
}

TEST(BiasWindowPolicy, EmaForgetsGeometrically) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open({{"window", "4"}, {"forget", "ema"}});
  SlotCache cache(*session);
  cache.append_range(0, 2);
  const double lambda = 1.0 - 1.0 / 4;
  cache.observe_by_position(0, {{0, 1.0f}});             // contribution 1
  cache.observe_by_position(1, {{0, 1.0f}, {1, 0.0f}});  // 2
  double s = lambda * 1.0 + 2.0;
  double c = lambda * 1.0 + 1.0;
  EXPECT_NEAR(importance(cache, 0, 4, true), s / c, 1e-6);
  // Uniform rows pull it towards 1 without ever reaching it: the spike decays by lambda per row.
  for (int32_t row = 2; row < 12; ++row) {
    cache.append(row);
    cache.observe_uniform(row);
    s = lambda * s + 1.0;
    c = lambda * c + 1.0;
    EXPECT_NEAR(importance(cache, 0, 4, true), s / c, 1e-5) << "row " << row;
  }
  EXPECT_GT(importance(cache, 0, 4, true), 1.0 + 1e-3);
}

TEST(BiasWindowPolicy, ProtectRecentKeepsTheNewestEvenWhenLeastImportant) {
  PolicyUnderTest policy("bias-window");
  // Row 3 gives the newest token .1 of 4: I = (1.05, 1.133, 1.0, .4).
  auto observe = [](SlotCache& cache) {
    cache.observe_by_position(0, {{0, 1.0f}});
    cache.observe_by_position(1, {{0, 0.5f}, {1, 0.5f}});
    cache.observe_by_position(2, {{0, 0.2f}, {1, 0.4f}, {2, 0.4f}});
    cache.observe_by_position(3, {{0, 0.4f}, {1, 0.3f}, {2, 0.2f}, {3, 0.1f}});
  };
  auto open = policy.open();
  SlotCache unprotected(*open);
  unprotected.append_range(0, 3);
  observe(unprotected);
  EXPECT_THAT(unprotected.evicted_positions(budget_of(3 * slot16())), ElementsAre(3));

  auto guarded = policy.open({{"protect_recent", "1"}});
  SlotCache cache(*guarded);
  cache.append_range(0, 3);
  observe(cache);
  EXPECT_THAT(cache.evicted_positions(budget_of(3 * slot16())), ElementsAre(2));
}

TEST(BiasWindowPolicy, ASlotNoRowHasSeenRanksAtTheUniformLevel) {
  // I(0) = (1 + 2) / 2 = 1.5, I(1) = 0 / 1 = 0, position 2 not yet observed: I = 1.
  PolicyUnderTest policy("bias-window");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 2);
  cache.observe_by_position(0, {{0, 1.0f}});
  cache.observe_by_position(1, {{0, 1.0f}, {1, 0.0f}});
  EXPECT_THAT(cache.evicted_positions(budget_of(2 * slot16())), ElementsAre(1));
  EXPECT_THAT(cache.evicted_positions(budget_of(1 * slot16())), ElementsAre(1, 2));
}

TEST(BiasWindowPolicy, LongRunsKeepTheRingCounterBounded) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open({{"window", "3"}});
  SlotCache cache(*session);
  const auto budget = budget_of(5 * slot16());
  for (int32_t pos = 0; pos < 300; ++pos) {
    cache.append(pos);
    cache.observe_uniform(pos);
    cache.step(budget);
  }
  for (int32_t pos : cache.sorted_positions()) {
    EXPECT_LT(cache.stats_at(pos)[0], 6.0f);
    EXPECT_NEAR(importance(cache, pos, 3, false), 1.0, 1e-6);
  }
}

TEST(BiasWindowPolicy, SeveralRowsInOneObserveAreRefused) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 1);
  std::vector<float> mass = {1.5f, 0.5f};
  auto view = cache.view();
  EXPECT_THAT([&] { session->observe(view, mass.data(), 2); },
              ::testing::ThrowsMessage<Error>(HasSubstr("once per query row")));
}

TEST(BiasWindowPolicy, BadInputFromTheCacheManagerIsAnError) {
  PolicyUnderTest policy("bias-window");
  auto session = policy.open();
  SlotCache cache(*session);
  cache.append_range(0, 1);
  std::vector<float> mass = {-0.5f, 1.5f};
  auto view = cache.view();
  EXPECT_THAT([&] { session->observe(view, mass.data(), 1); },
              ::testing::ThrowsMessage<Error>(HasSubstr("attention_mass[0]")));
  view.stats_per_slot = 1;
  EXPECT_THAT([&] { session->observe(view, mass.data(), 1); },
              ::testing::ThrowsMessage<Error>(HasSubstr("this policy asked for 33")));
}

}  // namespace
}  // namespace hearth::kv_test

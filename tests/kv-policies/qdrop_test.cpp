// `qdrop`: quantization dropout (spec §5.3): bits by importance rank, no token dropped.
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// n tokens, position p the (p+1)-th most important by accumulated mass (score = h2o), one row.
void rank_by_position(SlotCache& cache, int32_t n) {
  cache.append_range(0, n - 1);
  std::map<int32_t, float> mass;
  for (int32_t p = 0; p < n; ++p) mass[p] = static_cast<float>(p + 1) / (n * (n + 1) / 2);
  cache.observe_by_position(n - 1, mass);
}

std::vector<int> bits_by_position(const SlotCache& cache, int32_t n) {
  std::vector<int> out;
  for (int32_t p = 0; p < n; ++p) out.push_back(cache.bits_at(p));
  return out;
}

TEST(QdropPolicy, TierSharesFollowTheSchemeExactlyAndNothingIsDropped) {
  PolicyUnderTest policy("qdrop");
  auto session = policy.open({{"score", "h2o"}, {"scheme", "0.2:4,0.8:1"}});
  SlotCache cache(*session);
  rank_by_position(cache, 10);
  const auto evict = cache.decide(budget_of(0));
  for (uint8_t e : evict) EXPECT_EQ(e, 0);
  EXPECT_EQ(bits_by_position(cache, 10), (std::vector<int>{1, 1, 1, 1, 1, 1, 1, 1, 4, 4}));
}

TEST(QdropPolicy, PresetAverageBitsMatchTableOne) {
  // ratio -> average bits: ratio * 16, except the literal 0.6 row (80% 8-bit + 20% 4-bit).
  const std::vector<std::pair<std::string, double>> rows = {
      {"0.1", 1.6}, {"0.2", 3.2}, {"0.4", 6.4}, {"0.6", 7.2}, {"0.8", 12.8}, {"1", 16.0}};
  PolicyUnderTest policy("qdrop");
  for (const auto& [ratio, average] : rows) {
    auto session = policy.open({{"score", "h2o"}, {"ratio", ratio}});
    SlotCache cache(*session);
    rank_by_position(cache, 20);
    cache.decide(budget_of(0));
    double sum = 0.0;
    for (int b : bits_by_position(cache, 20)) sum += b;
    EXPECT_NEAR(sum / 20, average, 1e-12) << "ratio " << ratio;
    if (ratio != "0.6") {
      EXPECT_NEAR(sum / 20, std::stod(ratio) * 16, 1e-12);
    }
  }
}

TEST(QdropPolicy, TheMostImportantGetTheHighestTier) {
  PolicyUnderTest policy("qdrop");
  auto session = policy.open({{"score", "h2o"}, {"ratio", "0.4"}});  // 60% 8 + 40% 4
  SlotCache cache(*session);
  rank_by_position(cache, 5);
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 5), (std::vector<int>{4, 4, 8, 8, 8}));
}

TEST(QdropPolicy, TiersOnlyGoDown) {
  PolicyUnderTest policy("qdrop");
  auto session = policy.open({{"score", "h2o"}, {"ratio", "0.8"}});  // 60% 16 + 40% 8
  SlotCache cache(*session);
  rank_by_position(cache, 5);
  cache.set_bits(4, 4);  // the most important token, already at 4 bits
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 5), (std::vector<int>{8, 8, 16, 16, 4}));
  auto everything16 = policy.open({{"score", "h2o"}, {"ratio", "1"}});
  SlotCache same(*everything16);
  rank_by_position(same, 5);
  same.set_bits(0, 8);
  same.set_bits(4, 2);
  same.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(same, 5), (std::vector<int>{8, 16, 16, 16, 2}));
}

TEST(QdropPolicy, RecentTokensKeepSixteenBits) {
  PolicyUnderTest policy("qdrop");
  auto session = policy.open({{"score", "h2o"}, {"scheme", "1:1"}, {"recent", "2"}});
  SlotCache cache(*session);
  rank_by_position(cache, 6);
  cache.positions() = {5, 1, 0, 3, 2, 4};  // recency is by position, not slot order
  cache.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(cache, 6), (std::vector<int>{1, 1, 1, 1, 16, 16}));
}

TEST(QdropPolicy, BiasCorrectedScoreIsTheDefaultAndH2oTheAblation) {
  // I = (1.05, 1.133, 1.0, .4) but column sums (2.1, 1.2, .6, .1): the top token differs.
  auto observe = [](SlotCache& cache) {
    cache.append_range(0, 3);
    cache.observe_by_position(0, {{0, 1.0f}});
    cache.observe_by_position(1, {{0, 0.5f}, {1, 0.5f}});
    cache.observe_by_position(2, {{0, 0.2f}, {1, 0.4f}, {2, 0.4f}});
    cache.observe_by_position(3, {{0, 0.4f}, {1, 0.3f}, {2, 0.2f}, {3, 0.1f}});
  };
  PolicyUnderTest policy("qdrop");
  auto corrected = policy.open({{"scheme", "0.25:16,0.75:1"}});
  EXPECT_EQ(corrected->stats_per_slot(), 33u);
  SlotCache a(*corrected);
  observe(a);
  a.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(a, 4), (std::vector<int>{1, 16, 1, 1}));

  auto plain = policy.open({{"scheme", "0.25:16,0.75:1"}, {"score", "h2o"}});
  EXPECT_EQ(plain->stats_per_slot(), 1u);
  SlotCache b(*plain);
  observe(b);
  b.decide(budget_of(0));
  EXPECT_EQ(bits_by_position(b, 4), (std::vector<int>{16, 1, 1, 1}));
}

TEST(QdropPolicy, WithoutRatioOrSchemeTheLeastCompressingFittingRowIsUsed) {
  // 10 slots, bytes per slot 512 / 288 / 160 / 96 / 64 at 16 / 8 / 4 / 2 / 1 bits:
  // all-16 5120, 0.8 row 4224, 0.6 row 2624, 0.4 row 2368, 0.2 row 1344, 0.1 row 832.
  ASSERT_EQ(slot16(), 512u);
  const std::vector<std::pair<uint64_t, std::vector<int>>> cases = {
      {5120, {16, 16, 16, 16, 16, 16, 16, 16, 16, 16}},
      {5119, {8, 8, 8, 8, 16, 16, 16, 16, 16, 16}},
      {2624, {4, 4, 8, 8, 8, 8, 8, 8, 8, 8}},
      {2623, {4, 4, 4, 4, 8, 8, 8, 8, 8, 8}},
      {1344, {2, 2, 2, 2, 4, 4, 4, 4, 4, 4}},
      {100, {1, 1, 1, 1, 1, 1, 1, 1, 4, 4}},  // nothing fits: the most compressed row
  };
  PolicyUnderTest policy("qdrop");
  for (const auto& [budget, bits] : cases) {
    auto session = policy.open({{"score", "h2o"}});
    SlotCache cache(*session);
    rank_by_position(cache, 10);
    const auto evict = cache.decide(budget_of(budget));
    for (uint8_t e : evict) EXPECT_EQ(e, 0);
    EXPECT_EQ(bits_by_position(cache, 10), bits) << "budget " << budget;
  }
}

TEST(QdropPolicy, OptionErrorsNameTheKeyAndWhatIsAccepted) {
  PolicyUnderTest policy("qdrop");
  auto refused = [&](std::map<std::string, std::string> options, const std::string& part) {
    EXPECT_THAT(
        [&] { policy.open(options); },
        ::testing::ThrowsMessage<Error>(AllOf(HasSubstr("kv policy 'qdrop'"), HasSubstr(part))));
  };
  refused({{"ratio", "0.5"}},
          "option 'ratio' = '0.5' is not accepted; expected a Table 1 row: "
          "one of 0.1, 0.2, 0.4, 0.6, 0.8, 1");
  refused({{"ratio", "0.1x"}}, "option 'ratio' = '0.1x'");
  refused({{"ratio", "0.2"}, {"scheme", "1:16"}}, "give one of them");
  refused({{"scheme", "0.5:4,0.4:1"}}, "the shares sum to 0.9");
  refused({{"scheme", "0.5:3,0.5:1"}}, "bits '3' is not 16, 8, 4, 2 or 1");
  refused({{"scheme", "0.5:4,0.5:4"}}, "4 bits appear twice");
  refused({{"scheme", "0.5:4,"}}, "'' has no ':'");
  refused({{"scheme", "half:4"}}, "share 'half'");
  refused({{"score", "h2o"}, {"window", "8"}}, "option 'window' applies only to score = \"bias\"");
  refused({{"score", "oracle"}},
          "option 'score' = 'oracle' is not accepted; expected one of: "
          "bias, h2o");
  refused({{"recent", "-1"}}, "option 'recent' = '-1'");
}

}  // namespace
}  // namespace hearth::kv_test

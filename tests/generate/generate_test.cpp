// Sampling and stop strings, against straightforward expectations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hearth/error.hpp>
#include <hearth/sampler.hpp>

#include <map>

#include "generate/stop_strings.hpp"

namespace hearth {
namespace {

TEST(Sampler, GreedyTakesTheFirstLargestLogit) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(s.sample(logits, {}), 1);
}

TEST(Sampler, TheSameSeedGivesTheSameTokens) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 42;
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = float(i % 7) * 0.3f;
  Sampler a(p), b(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits, {}), b.sample(logits, {}));
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 7;
  Sampler s(p);
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 1/4, 3/4
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(logits, {}) == 1;
  EXPECT_NEAR(double(ones) / n, 0.75, 0.02);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  SamplerParams p;
  p.temperature = 5.0f;
  p.top_k = 2;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler s(p);
  std::vector<float> logits = {1.0f, 5.0f, 4.9f, 0.5f, 4.0f};
  for (int i = 0; i < 500; ++i) {
    int t = s.sample(logits, {});
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

TEST(Sampler, TopPAndMinPCutTheTail) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;
  p.min_p = 0.0f;
  Sampler top_p(p);
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  for (int i = 0; i < 300; ++i) EXPECT_EQ(top_p.sample(logits, {}), 0);
  p.top_p = 1.0f;
  p.min_p = 0.4f;  // keeps p >= 0.24: tokens 0 and 1
  Sampler min_p(p);
  for (int i = 0; i < 300; ++i) EXPECT_NE(min_p.sample(logits, {}), 2);
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplerParams p;
  p.temperature = 0;
  p.repeat_penalty = 4.0f;
  Sampler s(p);
  std::vector<float> logits = {3.0f, 1.0f, -0.5f};
  std::vector<int32_t> history = {0};
  EXPECT_EQ(s.sample(logits, history), 1);  // 3/4 < 1
  std::vector<float> negative = {-0.2f, -0.5f};
  std::vector<int32_t> history2 = {0};
  EXPECT_EQ(s.sample(negative, history2), 1);  // -0.2 * 4 = -0.8 < -0.5
}

TEST(Sampler, PresenceAndFrequencyPenaltiesSubtract) {
  SamplerParams p;
  p.temperature = 0;
  p.frequency_penalty = 1.0f;
  p.presence_penalty = 0.5f;
  Sampler s(p);
  std::vector<float> logits = {2.0f, 0.0f};
  std::vector<int32_t> history = {0};  // 2 - 1 - 0.5 = 0.5 > 0
  EXPECT_EQ(s.sample(logits, history), 0);
  std::vector<int32_t> twice = {0, 0};  // 2 - 2 - 0.5 < 0
  EXPECT_EQ(s.sample(logits, twice), 1);
}

TEST(Sampler, BadParametersNameTheParameter) {
  SamplerParams p;
  p.top_p = 0;
  EXPECT_THAT([&] { Sampler s(p); }, ::testing::ThrowsMessage<Error>(::testing::HasSubstr("top_p")));
  p = {};
  p.min_p = 2;
  EXPECT_THAT([&] { Sampler s(p); }, ::testing::ThrowsMessage<Error>(::testing::HasSubstr("min_p")));
}

TEST(StopStrings, AStopStringSplitAcrossPiecesIsNeverShown) {
  detail::StopStringFilter f({"</s>", "User:"});
  std::string shown;
  for (const char* piece : {"Hello", " wor", "ld<", "/", "s>", "after"}) shown += f.push(piece);
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(shown, "Hello world");
}

TEST(StopStrings, HeldBackTextIsReleasedWhenItDoesNotMatch) {
  detail::StopStringFilter f({"User:"});
  EXPECT_EQ(f.push("a Us"), "a ");
  EXPECT_EQ(f.push("e"), "");
  EXPECT_EQ(f.push("d"), "Used");
  EXPECT_EQ(f.push("Use"), "");
  EXPECT_EQ(f.flush(), "Use");
  EXPECT_FALSE(f.stopped());
}

}  // namespace
}  // namespace hearth

// A Session whose KV cache a policy plugin manages (kv_slot_cache.cpp), on stories260K: with
// nothing evicted it equals the plain F16 cache bit for bit; with a budget it holds exactly the
// budget; bad budgets are refused. The policies' own rules are tested in tests/kv-policies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hearth/error.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/session.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace hearth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

PluginRegistry& plugins() {
  static PluginRegistry registry([] {
    RegistryOptions o;
    o.search_path = {HEARTH_TEST_PLUGIN_DIR};
    o.use_environment = false;
    o.use_default = false;
    return o;
  }());
  return registry;
}

std::shared_ptr<const Model> stories() {
  static std::shared_ptr<const Model> model =
      Model::load(fs::path(HEARTH_TEST_SHARED_DIR) / "models" / "stories260K.gguf", plugins());
  return model;
}

// The sdk's example policy: keeps the first tokens and the newest that fit, all at 16 bits.
SessionOptions with_policy(KvBudget budget, int64_t n_ctx = 64) {
  SessionOptions o;
  o.n_ctx = n_ctx;
  o.kv_policy = plugins().kv_policy("example-recent");
  o.kv_budget = budget;
  o.kv_options = {{"sink_tokens", "2"}};
  return o;
}

KvBudget tokens(uint64_t n) {
  KvBudget b;
  b.unit = KvBudget::Unit::tokens;
  b.amount = n;
  return b;
}

std::vector<int32_t> some_tokens(size_t n) {
  std::vector<int32_t> out = {1};
  for (size_t i = 1; i < n; ++i) out.push_back(static_cast<int32_t>(17 + (i * 37) % 400));
  return out;
}

TEST(KvCache, FullBudgetEqualsThePlainCacheBitForBit) {
  SessionOptions plain_options;
  plain_options.n_ctx = 64;
  Session plain(stories(), plain_options);
  Session managed(stories(), with_policy(KvBudget{}));
  ASSERT_TRUE(managed.has_kv_policy());
  for (int32_t token : some_tokens(40)) {
    const auto want = plain.decode(std::span(&token, 1));
    const auto got = managed.decode(std::span(&token, 1));
    ASSERT_EQ(got.size(), want.size());
    ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
        << "logits differ at position " << managed.n_past() - 1;
  }
}

TEST(KvCache, PromptChunksEqualThePlainCacheToo) {
  SessionOptions plain_options;
  plain_options.n_ctx = 64;
  Session plain(stories(), plain_options);
  Session managed(stories(), with_policy(KvBudget{}));
  const auto prompt = some_tokens(24);
  const auto want = plain.decode(prompt, true);
  const auto got = managed.decode(prompt, true);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
}

TEST(KvCache, HoldsExactlyTheBudget) {
  Session session(stories(), with_policy(tokens(12)));
  const ModelHyperparams& hp = stories()->hparams();
  const uint64_t heads = static_cast<uint64_t>(hp.n_layer * hp.n_head_kv);
  for (int32_t token : some_tokens(30)) {
    session.decode(std::span(&token, 1));
    const KvUsage usage = session.kv_usage();
    const uint64_t held = std::min<uint64_t>(static_cast<uint64_t>(session.n_past()), 12);
    EXPECT_EQ(usage.slots, held * heads);
    EXPECT_EQ(usage.bytes_used, held * usage.slot_block_bytes);
  }
  const KvUsage usage = session.kv_usage();
  EXPECT_EQ(usage.policy, "example-recent");
  EXPECT_EQ(usage.budget_bytes, 12 * usage.slot_block_bytes);
  EXPECT_EQ(usage.slot_block_bytes, heads * 4 * static_cast<uint64_t>(hp.head_dim));
}

TEST(KvCache, FractionBudgetIsAFractionOfTheContext) {
  KvBudget quarter;
  quarter.fraction = 0.25;
  Session session(stories(), with_policy(quarter, 64));
  const auto prompt = some_tokens(40);
  session.decode(prompt);
  EXPECT_EQ(session.kv_usage().bytes_used, 16 * session.kv_usage().slot_block_bytes);
  EXPECT_EQ(session.kv_usage().budget_bytes, session.kv_usage().full_bytes / 4);
}

TEST(KvCache, ClearStartsOver) {
  Session session(stories(), with_policy(tokens(8)));
  const auto prompt = some_tokens(20);
  const auto first = session.decode(prompt);
  session.clear();
  EXPECT_EQ(session.kv_usage().slots, 0u);
  const auto again = session.decode(prompt);
  EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * sizeof(float)), 0);
}

TEST(KvCache, TruncateDropsLaterSlots) {
  Session session(stories(), with_policy(KvBudget{}));
  session.decode(some_tokens(20));
  session.truncate(5);
  const ModelHyperparams& hp = stories()->hparams();
  EXPECT_EQ(session.kv_usage().slots, 5u * static_cast<uint64_t>(hp.n_layer * hp.n_head_kv));
}

// q4 demotes every slot once it is stored: the records are requantized from 16 to 4 bits, the
// bytes drop to the 4-bit size, and the logits stay close to the plain cache's.
TEST(KvCache, DemotedSlotsTakeTheirTiersBytes) {
  SessionOptions o;
  o.n_ctx = 64;
  o.kv_policy = plugins().kv_policy("q4");
  Session q4(stories(), o);
  SessionOptions plain_options;
  plain_options.n_ctx = 64;
  Session plain(stories(), plain_options);
  const ModelHyperparams& hp = stories()->hparams();
  const uint64_t heads = static_cast<uint64_t>(hp.n_layer * hp.n_head_kv);
  const uint64_t record4 = hearth_kv_record_bytes(4, static_cast<uint32_t>(hp.head_dim),
                                                  static_cast<uint32_t>(hp.head_dim));
  int differing = 0, same_argmax = 0, steps = 0;
  for (int32_t token : some_tokens(30)) {
    const auto got = q4.decode(std::span(&token, 1));
    const auto want = plain.decode(std::span(&token, 1));
    differing += got != want;
    same_argmax += std::max_element(got.begin(), got.end()) - got.begin() ==
                   std::max_element(want.begin(), want.end()) - want.begin();
    ++steps;
    EXPECT_EQ(q4.kv_usage().bytes_used,
              static_cast<uint64_t>(q4.n_past()) * heads * 2 * record4);
  }
  EXPECT_GT(differing, 0) << "4-bit slots changed nothing";
  // stories260K's heads are 8 wide, so a 4-bit group carries a 4-byte header per 8 values; the
  // model still picks the same next token almost always.
  EXPECT_GE(same_argmax, steps * 8 / 10) << same_argmax << " of " << steps << " argmax agree";
}

// h2o at a budget of 10 tokens keeps exactly 10 slots per (layer, KV head), chosen per head.
TEST(KvCache, EvictingPolicyKeepsTheBudgetPerHead) {
  SessionOptions o;
  o.n_ctx = 64;
  o.kv_policy = plugins().kv_policy("h2o");
  o.kv_budget = tokens(10);
  Session session(stories(), o);
  session.decode(some_tokens(8));
  for (int32_t token : some_tokens(25)) session.decode(std::span(&token, 1));
  const KvUsage usage = session.kv_usage();
  EXPECT_EQ(usage.bytes_used, 10 * usage.slot_block_bytes);
  EXPECT_EQ(usage.bytes_used, usage.budget_bytes);
}

TEST(KvCache, BudgetBelowOneTokenIsRefused) {
  KvBudget tiny;
  tiny.unit = KvBudget::Unit::bytes;
  tiny.amount = 100;
  try {
    Session session(stories(), with_policy(tiny));
    FAIL() << "a budget below one token per cache was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("less than one token"));
    EXPECT_THAT(e.what(), HasSubstr("raise the budget"));
  }
}

TEST(KvCache, PolicyOptionErrorsReachTheCaller) {
  SessionOptions o = with_policy(KvBudget{});
  o.kv_options = {{"sink_tokens", "-3"}};
  EXPECT_THROW(Session(stories(), o), Error);
}

}  // namespace
}  // namespace hearth

// Every policy refuses unknown keys and malformed values, naming the key, the value and what
// would be accepted.
#include "kv_policy_driver.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

void expect_refused(PolicyUnderTest& policy, const std::map<std::string, std::string>& options,
                    const std::string& part) {
  EXPECT_THAT([&] { policy.open(options); },
              ::testing::ThrowsMessage<Error>(
                  AllOf(HasSubstr("kv policy '" + policy.plugin().name() + "'"), HasSubstr(part))))
      << "options given to " << policy.plugin().name();
}

TEST(KvPolicyOptions, UnknownKeysAreRefusedWithTheAcceptedList) {
  const std::vector<std::pair<std::string, std::string>> accepted = {
      {"full", "accepts no options"},
      {"window", "accepts sinks"},
      {"h2o", "accepts recent"},
      {"bias-window", "accepts forget, protect_recent, window"},
      {"qdrop", "accepts forget, ratio, recent, scheme, score, window"},
      {"q8", "accepts recent"},
      {"q4", "accepts recent"}};
  for (const auto& [name, list] : accepted) {
    PolicyUnderTest policy(name);
    expect_refused(policy, {{"recnet", "0.3"}},
                   "unknown option 'recnet' = '0.3'; this policy " + list);
  }
}

TEST(KvPolicyOptions, NumbersParseStrictly) {
  PolicyUnderTest h2o("h2o");
  for (const std::string bad : {"0.5x", " 0.5", "+0.5", "nan", "inf", "1.5", "-0.1", "", "1e999"})
    expect_refused(h2o, {{"recent", bad}},
                   "option 'recent' = '" + bad +
                       "' is not accepted; expected a decimal number "
                       "in [0, 1]");
  PolicyUnderTest window("window");
  for (const std::string bad : {"4.0", "-1", "0x4", "4 ", "four", "99999999999999999999"})
    expect_refused(window, {{"sinks", bad}}, "option 'sinks' = '" + bad + "' is not accepted");
  PolicyUnderTest bias("bias-window");
  expect_refused(bias, {{"window", "0"}}, "expected a whole number in [1, 4096]");
  expect_refused(bias, {{"forget", "decay"}}, "expected one of: ring, ema");
  expect_refused(bias, {{"protect_recent", "-2"}}, "option 'protect_recent' = '-2'");
  PolicyUnderTest q4("q4");
  expect_refused(q4, {{"recent", "2.5"}}, "option 'recent' = '2.5'");
}

TEST(KvPolicyOptions, ValidValuesAreAccepted) {
  PolicyUnderTest h2o("h2o");
  EXPECT_NO_THROW(h2o.open({{"recent", "0.25"}}));
  EXPECT_NO_THROW(h2o.open({{"recent", "1e-1"}}));
  PolicyUnderTest bias("bias-window");
  EXPECT_NO_THROW(bias.open({{"window", "64"}, {"forget", "ema"}, {"protect_recent", "16"}}));
  PolicyUnderTest qdrop("qdrop");
  EXPECT_NO_THROW(qdrop.open({{"scheme", "0.2:16,0.8:8"}, {"recent", "8"}, {"window", "16"}}));
}

}  // namespace
}  // namespace hearth::kv_test

// Every policy of the family is its own plugin, found under its exact descriptor name.
#include "kv_policy_driver.hpp"

#include <gtest/gtest.h>

namespace hearth::kv_test {
namespace {

TEST(KvPolicyPlugins, EachPolicyLoadsUnderItsName) {
  for (const std::string name : {"full", "window", "h2o", "bias-window", "qdrop", "q8", "q4"}) {
    PolicyUnderTest policy(name);
    EXPECT_EQ(policy.plugin().name(), name);
    EXPECT_EQ(policy.plugin().info().kind, PluginKind::kv);
    EXPECT_EQ(policy.plugin().info().file.filename(), "libhearth-kv-" + name + ".so");
    EXPECT_FALSE(policy.plugin().info().description.empty());
  }
}

}  // namespace
}  // namespace hearth::kv_test

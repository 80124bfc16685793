// The `hearth` command line, run as a user runs it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "../support/run_command.hpp"

namespace hearth::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kNoEnv = "env -u HEARTH_PLUGIN_PATH ";

TEST(CliPlugins, ListsTheBuiltPluginsWithKindNameVersionAndFile) {
  auto r = run_command(kNoEnv + hearth_binary() + " plugins 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("example-recent"), HasSubstr("libhearth-kv-example-recent.so"),
                    HasSubstr("Refused files (0)")));
  if (std::filesystem::exists(std::string(HEARTH_TEST_PLUGIN_DIR) + "/libhearth-backend-cpu.so")) {
    EXPECT_THAT(r.output, HasSubstr("libhearth-backend-cpu.so"));
  }
}

TEST(CliPlugins, ListsTheWrongAbiFixtureAsRefusedWithBothVersions) {
  auto r = run_command("HEARTH_PLUGIN_PATH=" + std::string(HEARTH_TEST_FIXTURE_DIR) + " " +
                       hearth_binary() + " plugins 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("libhearth-kv-fixture-wrong-abi.so"),
                              HasSubstr("built for plugin contract 99.3"),
                              HasSubstr("this Hearth speaks contract 1.")));
}

TEST(CliPlugins, ThePluginPathOptionComesFirst) {
  auto r = run_command(kNoEnv + hearth_binary() + " plugins --plugin-path " +
                       HEARTH_TEST_FIXTURE_DIR + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The fixture's duplicate is found first, so the real example is the refused duplicate.
  EXPECT_THAT(r.output, HasSubstr("duplicate kv plugin 'example-recent'"));
}

TEST(CliDevices, ListsTheCpuDeviceWithMemory) {
  if (!std::filesystem::exists(std::string(HEARTH_TEST_PLUGIN_DIR) + "/libhearth-backend-cpu.so"))
    GTEST_SKIP() << "backend-cpu is not built";
  auto r = run_command(kNoEnv + hearth_binary() + " devices 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("backend cpu"), HasSubstr("GiB total")));
}

TEST(Cli, UnknownCommandsAndOptionsSuggestTheClosest) {
  auto r = run_command(hearth_binary() + " plugin 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("did you mean 'plugins'?"));
  r = run_command(hearth_binary() + " plugins --plugn-path x 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("did you mean '--plugin-path'?"));
}

TEST(Cli, HelpListsCommands) {
  auto r = run_command(hearth_binary() + " --help 2>&1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, AllOf(HasSubstr("plugins"), HasSubstr("devices")));
  r = run_command(hearth_binary() + " plugins --help 2>&1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--plugin-path"));
}

}  // namespace
}  // namespace hearth::test

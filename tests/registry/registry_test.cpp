// The plugin registry: what it loads, what it refuses and why, and plugin object lifetimes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hearth/error.hpp>
#include <hearth/plugin_registry.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <numeric>

namespace hearth {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::filesystem::path kPluginDir = HEARTH_TEST_PLUGIN_DIR;
const std::filesystem::path kFixtureDir = HEARTH_TEST_FIXTURE_DIR;

RegistryOptions only(std::vector<std::filesystem::path> dirs) {
  RegistryOptions options;
  options.search_path = std::move(dirs);
  options.use_environment = false;
  options.use_default = false;
  return options;
}

std::string refusal_for(const PluginRegistry& registry, const std::string& file_part) {
  for (const auto& r : registry.refused())
    if (r.file.filename().string().find(file_part) != std::string::npos) return r.reason;
  return "";
}

TEST(Registry, LoadsTheExamplePluginFromTheBuildPluginDirectory) {
  PluginRegistry registry(only({kPluginDir}));
  EXPECT_TRUE(registry.has(PluginKind::kv, "example-recent"));
  EXPECT_TRUE(registry.refused().empty()) << registry.refused().front().reason;
  auto info = registry.kv_policy("example-recent").info();
  EXPECT_EQ(info.version, "1.0.0");
  EXPECT_EQ(info.abi_major, HEARTH_ABI_MAJOR);
  EXPECT_EQ(info.file.filename(), "libhearth-kv-example-recent.so");
}

TEST(Registry, RefusesAPluginOfAnotherContractVersionNamingBothVersions) {
  PluginRegistry registry(only({kFixtureDir}));
  EXPECT_FALSE(registry.has(PluginKind::kv, "future-abi"));
  EXPECT_THAT(refusal_for(registry, "wrong-abi"),
              AllOf(HasSubstr("99.3"), HasSubstr(std::to_string(HEARTH_ABI_MAJOR) + "." +
                                                 std::to_string(HEARTH_ABI_MINOR))));
}

TEST(Registry, RefusesALibraryWithoutTheEntryPoint) {
  PluginRegistry registry(only({kFixtureDir}));
  EXPECT_THAT(refusal_for(registry, "no-entry"), HasSubstr("no entry point 'hearth_plugin_entry'"));
}

TEST(Registry, RefusesAPluginWhoseFactoryFailsWithItsMessage) {
  PluginRegistry registry(only({kFixtureDir}));
  EXPECT_FALSE(registry.has(PluginKind::kv, "factory-fails"));
  EXPECT_THAT(refusal_for(registry, "factory-fails"),
              AllOf(HasSubstr("factory failed"), HasSubstr("no hardware for this policy")));
}

TEST(Registry, KeepsTheFirstOfTwoPluginsWithTheSameName) {
  PluginRegistry registry(only({kPluginDir, kFixtureDir}));
  EXPECT_EQ(registry.kv_policy("example-recent").info().version, "1.0.0");
  EXPECT_THAT(refusal_for(registry, "duplicate-name"),
              AllOf(HasSubstr("duplicate kv plugin 'example-recent'"),
                    HasSubstr("libhearth-kv-example-recent.so")));
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "hearth-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(Registry, RefusesAFileThatIsNotASharedLibrary) {
  TempDir dir;
  std::ofstream(dir.path() / "libhearth-backend-text.so") << "this is not ELF\n";
  std::ofstream(dir.path() / "libhearth-backend-empty.so");
  std::ofstream(dir.path() / "README.txt") << "not a candidate: ignored\n";
  PluginRegistry registry(only({dir.path()}));
  ASSERT_EQ(registry.refused().size(), 2u);
  EXPECT_THAT(refusal_for(registry, "text"), HasSubstr("not a shared library"));
  EXPECT_THAT(refusal_for(registry, "empty"), HasSubstr("not a shared library"));
}

TEST(Registry, RefusesAnElfFileTheLoaderRejects) {
  TempDir dir;
  // Valid ELF magic, garbage after it.
  std::ofstream(dir.path() / "libhearth-backend-broken.so", std::ios::binary)
      << std::string("\x7f" "ELF", 4) << std::string(200, '\x01');
  PluginRegistry registry(only({dir.path()}));
  EXPECT_THAT(refusal_for(registry, "broken"), HasSubstr("dynamic loader refused it"));
}

TEST(Registry, MissingDirectoriesAreSkipped) {
  PluginRegistry registry(only({"/nonexistent/hearth/plugins", kPluginDir}));
  EXPECT_TRUE(registry.has(PluginKind::kv, "example-recent"));
}

TEST(Registry, ReadsTheEnvironmentSearchPath) {
  ASSERT_EQ(setenv("HEARTH_PLUGIN_PATH", ("/nonexistent:" + kFixtureDir.string()).c_str(), 1), 0);
  RegistryOptions options;
  options.use_default = false;
  PluginRegistry registry(options);
  unsetenv("HEARTH_PLUGIN_PATH");
  EXPECT_EQ(registry.search_path().size(), 2u);
  EXPECT_FALSE(refusal_for(registry, "wrong-abi").empty());
}

TEST(Registry, DefaultDirectoryIsNextToLibhearth) {
  EXPECT_EQ(PluginRegistry::default_plugin_dir(), std::filesystem::path(kPluginDir));
}

TEST(Registry, AMissingPluginIsAClearError) {
  PluginRegistry registry(only({kPluginDir}));
  try {
    registry.kv_policy("h2o-typo");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("no kv plugin named 'h2o-typo'"),
                                HasSubstr("example-recent"), HasSubstr("hearth plugins")));
  }
}

// The example plugin, driven through the core's C++ view of the C contract.
TEST(ExamplePlugin, KeepsSinkTokensAndTheNewestThatFit) {
  PluginRegistry registry(only({kPluginDir}));
  auto session = registry.kv_policy("example-recent").open({{"sink_tokens", "2"}});
  ASSERT_TRUE(session);
  EXPECT_EQ(session->stats_per_slot(), 0u);

  std::vector<int32_t> positions = {5, 0, 9, 1, 7, 3, 8, 2};  // compacted, so unordered
  std::vector<uint8_t> bits(positions.size(), 8);
  std::vector<uint8_t> evict(positions.size(), 0);
  hearth_kv_view view{};
  view.struct_size = sizeof(view);
  view.n_slots = static_cast<uint32_t>(positions.size());
  view.positions = positions.data();
  view.bits = bits.data();
  view.newest_position = 9;
  hearth_kv_budget budget{};
  budget.struct_size = sizeof(budget);
  budget.slot_bytes[16] = 100;
  budget.budget_bytes = 5 * 100 + 99;
  session->decide(view, budget, evict.data());

  std::vector<int32_t> kept;
  for (size_t i = 0; i < positions.size(); ++i)
    if (!evict[i]) {
      kept.push_back(positions[i]);
      EXPECT_EQ(bits[i], 16);
    }
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<int32_t>{0, 1, 7, 8, 9}));
}

TEST(ExamplePlugin, BadOptionsAreErrorsNamingTheKey) {
  PluginRegistry registry(only({kPluginDir}));
  auto policy = registry.kv_policy("example-recent");
  EXPECT_THAT([&] { policy.open({{"sink_tokens", "four"}}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'sink_tokens' must be an integer")));
  EXPECT_THAT([&] { policy.open({{"sink_tokens", "-1"}}); },
              ::testing::ThrowsMessage<Error>(HasSubstr("must be >= 0")));
}

TEST(ExamplePlugin, ErrorsFromDecideCarryThePluginsMessage) {
  PluginRegistry registry(only({kPluginDir}));
  auto session = registry.kv_policy("example-recent").open();
  int32_t position = 0;
  uint8_t bits = 16, evict = 0;
  hearth_kv_view view{};
  view.n_slots = 1;
  view.positions = &position;
  view.bits = &bits;
  hearth_kv_budget budget{};  // slot_bytes all zero
  try {
    session->decide(view, budget, &evict);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), HEARTH_ERR_INVALID_ARGUMENT);
    EXPECT_THAT(e.what(), HasSubstr("slot_bytes[16] is 0"));
  }
}

TEST(ExamplePlugin, SessionsOutliveTheRegistryThatMadeThem) {
  std::unique_ptr<KvPolicySession> session;
  {
    PluginRegistry registry(only({kPluginDir}));
    session = registry.kv_policy("example-recent").open();
  }
  EXPECT_EQ(session->stats_per_slot(), 0u);  // the library is still loaded
}

}  // namespace
}  // namespace hearth

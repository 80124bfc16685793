// TOML configuration and placement: the shipped profiles, defaults, every error with its exact
// file:line:column, did-you-mean, layer specs, KV budgets, and placement plans.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hearth/config.hpp>
#include <hearth/plugin_registry.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>

namespace hearth {

// Readable test failures.
void PrintTo(const SourceLocation& where, std::ostream* out) { *out << where.to_string(); }

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kSourceDir = HEARTH_TEST_SOURCE_DIR;
const std::filesystem::path kPluginDir = HEARTH_TEST_PLUGIN_DIR;

Config parse(std::string_view text) { return parse_config(text, "test.toml"); }

// The ConfigError that fn throws; fails the test if it throws none.
ConfigError error_from(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& error) {
    return error;
  }
  ADD_FAILURE() << "no ConfigError was thrown";
  return ConfigError({}, "", "", "");
}

ConfigError parse_error(std::string_view text) {
  return error_from([&] { (void)parse(text); });
}

AvailableDevice cpu() { return {"cpu", "cpu", HEARTH_DEVICE_CPU, 0}; }
AvailableDevice cuda(uint32_t i) {
  return {"cuda", "cuda:" + std::to_string(i), HEARTH_DEVICE_GPU, i};
}
AvailableDevice hip(uint32_t i, hearth_device_type type) {
  return {"hip", "hip:" + std::to_string(i), type, i};
}

DeviceInventory inventory(std::vector<AvailableDevice> devices) {
  DeviceInventory out;
  for (const auto& device : devices)
    if (std::find(out.backends.begin(), out.backends.end(), device.backend) == out.backends.end())
      out.backends.push_back(device.backend);
  out.devices = std::move(devices);
  return out;
}

// (device name, first layer, last layer) of each assignment.
using Span = std::tuple<std::string, int, int>;
std::vector<Span> spans(const PlacementPlan& plan) {
  std::vector<Span> out;
  for (const auto& a : plan.assignments)
    out.emplace_back(a.device_name, a.first_layer, a.last_layer);
  return out;
}

ConfigError placement_error(std::string_view text, int n_layers, const DeviceInventory& inv) {
  const Config config = parse(text);
  return error_from([&] { (void)plan_placement(config, n_layers, inv); });
}

// ---------------------------------------------------------------- profiles

std::vector<std::filesystem::path> profiles() {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(kSourceDir / "configs"))
    if (entry.path().extension() == ".toml") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConfigProfiles, EveryShippedProfileLoads) {
  const auto files = profiles();
  std::set<std::string> names;
  for (const auto& file : files) names.insert(file.filename().string());
  for (const char* expected : {"cpu-only.toml", "nvidia-gpu.toml", "radeon-780m-igpu.toml",
                               "egpu-oculink.toml", "gpu-cpu-split.toml"})
    EXPECT_TRUE(names.count(expected)) << expected << " is missing from configs/";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    try {
      const Config config = load_config_file(file);
      EXPECT_FALSE(config.devices.empty());
      EXPECT_EQ(config.source, file);
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
    }
  }
}

PlacementPlan plan_profile(const std::string& name, int n_layers, const DeviceInventory& inv) {
  return plan_placement(load_config_file(kSourceDir / "configs" / name), n_layers, inv);
}

TEST(ConfigProfiles, EachProfilePlacesAModelOnTheMachineItDescribes) {
  const auto laptop_with_egpu =
      inventory({cpu(), hip(0, HEARTH_DEVICE_IGPU), hip(1, HEARTH_DEVICE_GPU)});
  const auto workstation = inventory({cpu(), cuda(0)});

  EXPECT_THAT(spans(plan_profile("cpu-only.toml", 22, inventory({cpu()}))),
              ElementsAre(Span{"cpu", 0, 21}));
  EXPECT_THAT(spans(plan_profile("nvidia-gpu.toml", 32, workstation)),
              ElementsAre(Span{"cuda:0", 0, 31}));
  EXPECT_THAT(spans(plan_profile("radeon-780m-igpu.toml", 32, laptop_with_egpu)),
              ElementsAre(Span{"hip:0", 0, 31}));
  EXPECT_THAT(spans(plan_profile("egpu-oculink.toml", 32, laptop_with_egpu)),
              ElementsAre(Span{"hip:1", 0, 31}));
  const auto split = plan_profile("gpu-cpu-split.toml", 32, workstation);
  EXPECT_THAT(spans(split), ElementsAre(Span{"cuda:0", 0, 23}, Span{"cpu", 24, 31}));
  EXPECT_EQ(split.devices[split.input_device].name, "cuda:0");
  EXPECT_EQ(split.devices[split.output_device].name, "cpu");
}

// ---------------------------------------------------------------- defaults and values

TEST(ConfigDefaults, BuiltInDefaultsRunEveryLayerOnTheCpu) {
  const Config config = default_config();
  EXPECT_TRUE(config.runtime.plugin_path.empty());
  EXPECT_EQ(config.runtime.threads, 0);
  EXPECT_EQ(config.runtime.context, 0);
  EXPECT_EQ(config.runtime.batch, 512);
  EXPECT_EQ(config.runtime.seed, -1);
  ASSERT_EQ(config.devices.size(), 1u);
  const DeviceConfig& device = config.devices[0];
  EXPECT_EQ(device.match, "cpu");
  EXPECT_EQ(device.backend, "cpu");
  EXPECT_EQ(device.layers.kind, LayerSpec::Kind::all);
  EXPECT_EQ(device.weights, "native");
  EXPECT_EQ(device.kv.policy, "full");
  EXPECT_EQ(device.kv.budget.unit, KvBudget::Unit::fraction);
  EXPECT_EQ(device.kv.budget.fraction, 1.0);
  EXPECT_TRUE(device.kv.options.empty());
  EXPECT_EQ(config.source_name, "<built-in defaults>");
}

TEST(ConfigDefaults, AFileWithoutDevicesKeepsTheDefaultDevice) {
  const Config empty = parse("");
  ASSERT_EQ(empty.devices.size(), 1u);
  EXPECT_EQ(empty.devices[0].match, "cpu");
  const Config runtime_only = parse("[runtime]\nthreads = 6\n");
  EXPECT_EQ(runtime_only.runtime.threads, 6);
  ASSERT_EQ(runtime_only.devices.size(), 1u);
  EXPECT_EQ(runtime_only.devices[0].layers.kind, LayerSpec::Kind::all);
}

TEST(ConfigValues, ReadsEveryRuntimeSetting) {
  const Config config = parse_config(R"(
[runtime]
plugin_path = ["plugins", "/opt/hearth/plugins"]
threads = 8
context = 4096
batch = 128
seed = 42
)",
                                     "cfg.toml", "/etc/hearth");
  EXPECT_THAT(config.runtime.plugin_path,
              ElementsAre(std::filesystem::path("/etc/hearth/plugins"),
                          std::filesystem::path("/opt/hearth/plugins")));
  EXPECT_EQ(config.runtime.threads, 8);
  EXPECT_EQ(config.runtime.context, 4096);
  EXPECT_EQ(config.runtime.batch, 128);
  EXPECT_EQ(config.runtime.seed, 42);
  // One string is a path of one directory; without a base directory it stays relative.
  EXPECT_THAT(parse("[runtime]\nplugin_path = \"p\"\n").runtime.plugin_path,
              ElementsAre(std::filesystem::path("p")));
}

TEST(ConfigValues, ReadsADeviceEntryWithKvOptionsAndBackendOptions) {
  const Config config = parse(R"([[device]]
match = "cuda:0"
backend = "cuda"
layers = " 0 - 23 "
weights = "nf4"
kv = { policy = "h2o", budget = 0.25, recent = 0.5, sinks = 4, exact = true, mode = "x" }
options = { streams = 2, graphs = false }
)");
  ASSERT_EQ(config.devices.size(), 1u);
  const DeviceConfig& device = config.devices[0];
  EXPECT_EQ(device.match, "cuda:0");
  EXPECT_EQ(device.backend, "cuda");
  EXPECT_EQ(device.layers.kind, LayerSpec::Kind::range);
  EXPECT_EQ(device.layers.first, 0);
  EXPECT_EQ(device.layers.last, 23);
  EXPECT_EQ(device.weights, "nf4");
  EXPECT_EQ(device.kv.policy, "h2o");
  EXPECT_EQ(device.kv.budget.fraction, 0.25);
  EXPECT_EQ(device.kv.options,
            (std::map<std::string, std::string>{
                {"recent", "0.5"}, {"sinks", "4"}, {"exact", "true"}, {"mode", "x"}}));
  EXPECT_EQ(device.backend_options,
            (std::map<std::string, std::string>{{"streams", "2"}, {"graphs", "false"}}));
  EXPECT_EQ(device.where, (SourceLocation{"test.toml", 1, 1}));
  EXPECT_EQ(device.location_of("layers"), (SourceLocation{"test.toml", 4, 10}));
  EXPECT_EQ(device.location_of("kv.budget"), (SourceLocation{"test.toml", 6, 33}));
  EXPECT_EQ(device.location_of("never-written"), device.where);
}

TEST(ConfigValues, UnknownWeightFormatNamesAreLeftToThePlugins) {
  EXPECT_EQ(parse("[[device]]\nmatch = \"cpu\"\nweights = \"cs256-int8\"\n").devices[0].weights,
            "cs256-int8");
}

TEST(ConfigValues, KvAsAStringNamesThePolicy) {
  const Config config = parse("[[device]]\nmatch = \"cpu\"\nkv = \"window\"\n");
  EXPECT_EQ(config.devices[0].kv.policy, "window");
  EXPECT_EQ(config.devices[0].kv.budget.fraction, 1.0);
}

TEST(ConfigValues, KvTableAsItsOwnSection) {
  const Config config =
      parse("[[device]]\nmatch = \"cpu\"\n[device.kv]\npolicy = \"qdrop\"\nbudget = 0.1\n");
  EXPECT_EQ(config.devices[0].kv.policy, "qdrop");
  EXPECT_EQ(config.devices[0].kv.budget.fraction, 0.1);
}

KvBudget budget_of(const std::string& value) {
  return parse("[[device]]\nmatch = \"cpu\"\nkv = { budget = " + value + " }\n")
      .devices[0]
      .kv.budget;
}

TEST(ConfigValues, KvBudgetsAsFractionsPercentagesBytesAndTokens) {
  EXPECT_EQ(budget_of("1.0").fraction, 1.0);
  EXPECT_EQ(budget_of("\"25%\"").fraction, 0.25);
  EXPECT_EQ(budget_of("\"25%\"").unit, KvBudget::Unit::fraction);
  EXPECT_EQ(budget_of("\"512MiB\""), (KvBudget{KvBudget::Unit::bytes, 1.0, 512ull << 20}));
  EXPECT_EQ(budget_of("\"1.5 GB\"").amount, 1'500'000'000ull);
  EXPECT_EQ(budget_of("\"2kib\"").amount, 2048ull);
  EXPECT_EQ(budget_of("\"100 B\"").amount, 100ull);
  EXPECT_EQ(budget_of("\"4096 tokens\""), (KvBudget{KvBudget::Unit::tokens, 1.0, 4096}));
  EXPECT_EQ(budget_of("\"4096 tokens\"").to_string(), "4096 tokens");
  EXPECT_EQ(budget_of("0.25").to_string(), "0.25");
}

LayerSpec layers_of(const std::string& line) {
  return parse("[[device]]\nmatch = \"cpu\"\n" + line + "\n").devices[0].layers;
}

TEST(ConfigValues, LayerSpecs) {
  EXPECT_EQ(layers_of("layers = \"all\"").kind, LayerSpec::Kind::all);
  EXPECT_EQ(layers_of("layers = \"rest\"").kind, LayerSpec::Kind::rest);
  EXPECT_EQ(layers_of("layers = \"none\"").kind, LayerSpec::Kind::none);
  EXPECT_EQ(layers_of("").kind, LayerSpec::Kind::rest);
  const LayerSpec one = layers_of("layers = \"7\"");
  EXPECT_EQ(one.kind, LayerSpec::Kind::range);
  EXPECT_EQ(one.first, 7);
  EXPECT_EQ(one.last, 7);
  EXPECT_EQ(one.to_string(), "7");
  EXPECT_EQ(layers_of("layers = \"8-15\"").to_string(), "8-15");
  const LayerSpec count = layers_of("gpu_layers = 24");
  EXPECT_EQ(count.kind, LayerSpec::Kind::count);
  EXPECT_EQ(count.count, 24);
  EXPECT_EQ(count.to_string(), "gpu_layers = 24");
}

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "hearth-config-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

TEST(ConfigFile, RelativePluginPathsResolveAgainstTheFilesFolder) {
  TempDir dir;
  const auto file = dir.write("hearth.toml", "[runtime]\nplugin_path = [\"lib/plugins\"]\n");
  const Config config = load_config_file(file);
  EXPECT_THAT(config.runtime.plugin_path, ElementsAre(dir.path() / "lib/plugins"));
  EXPECT_EQ(config.source_name, file.string());
}

TEST(ConfigFile, ErrorsNameTheFile) {
  TempDir dir;
  const auto file = dir.write("bad.toml", "[runtime]\nthreads = -1\n");
  EXPECT_EQ(std::string(error_from([&] { (void)load_config_file(file); }).what()),
            file.string() +
                ":2:11: threads must be 0 (one per physical core) or more, got -1 (key "
                "'runtime.threads'): write it like threads = 8");
}

TEST(ConfigFile, AMissingFileOrADirectoryIsAClearError) {
  TempDir dir;
  const auto missing = dir.path() / "nope.toml";
  EXPECT_EQ(std::string(error_from([&] { (void)load_config_file(missing); }).what()),
            missing.string() +
                ": cannot open the config file: No such file or directory: check the path "
                "(configs/ has examples)");
  EXPECT_THAT(error_from([&] { (void)load_config_file(dir.path()); }).what(),
              HasSubstr("is a directory, not a config file"));
}

// ---------------------------------------------------------------- errors in the text

TEST(ConfigErrors, MalformedTomlGivesTheParsersPosition) {
  EXPECT_EQ(std::string(parse_error("[runtime]\nthreads = 4\nbatch = [1,\n").what()),
            "test.toml:3:13: malformed TOML: error while parsing array: encountered end-of-file: "
            "fix the syntax here (TOML is described at https://toml.io)");
  const ConfigError twice = parse_error("[runtime]\nthreads = 4\nthreads = 5\n");
  EXPECT_EQ(twice.where(), (SourceLocation{"test.toml", 3, 11}));
  EXPECT_THAT(twice.what(), HasSubstr("cannot redefine existing integer 'threads'"));
  EXPECT_EQ(parse_error("[[device]\n").where(), (SourceLocation{"test.toml", 1, 10}));
}

TEST(ConfigErrors, WrongTypeForAKey) {
  EXPECT_EQ(std::string(parse_error("[runtime]\nthreads = \"4\"\n").what()),
            "test.toml:2:11: expected an integer, got string (key 'runtime.threads'): write it "
            "like threads = 8");
  EXPECT_EQ(std::string(parse_error("[[device]]\nmatch = 0\n").what()),
            "test.toml:2:9: expected a string, got integer (key 'device[0].match'): write it "
            "like match = \"cuda:0\"");
  EXPECT_EQ(std::string(parse_error("[[device]]\nmatch = \"cpu\"\nlayers = 24\n").what()),
            "test.toml:3:10: expected a string, got integer (key 'device[0].layers'): write it "
            "in quotes like layers = \"0-23\", or count layers with gpu_layers = 24");
  EXPECT_EQ(parse_error("[runtime]\nplugin_path = [\"a\", 3]\n").key(), "runtime.plugin_path[1]");
  EXPECT_EQ(parse_error("[runtime]\nplugin_path = [\"a\", 3]\n").where(),
            (SourceLocation{"test.toml", 2, 21}));
  EXPECT_EQ(parse_error("runtime = 3\n").problem(), "expected a table, got integer");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cpu\"\noptions = 3\n").key(), "device[0].options");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cpu\"\nkv = 0.5\n").problem(),
            "expected a string or a table, got float");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cpu\"\nkv = { window = [1, 2] }\n").problem(),
            "expected a string, a number or a boolean, got array");
}

TEST(ConfigErrors, DeviceMustBeAnArrayOfTables) {
  EXPECT_EQ(std::string(parse_error("[device]\nmatch = \"cpu\"\n").what()),
            "test.toml:1:1: expected an array of tables, got table (key 'device'): write each "
            "device as its own [[device]] section (double brackets)");
  EXPECT_EQ(parse_error("device = [\"cpu\"]\n").where(), (SourceLocation{"test.toml", 1, 11}));
  EXPECT_EQ(parse_error("device = []\n").problem(), "no devices are listed");
}

TEST(ConfigErrors, UnknownKeysSuggestTheClosestKnownKey) {
  EXPECT_EQ(std::string(parse_error("[runtime]\n  treads = 4\n").what()),
            "test.toml:2:3: unknown key 'treads' in [runtime] (key 'runtime.treads'): did you "
            "mean 'threads'?");
  auto suggestion = [](const std::string& text) { return parse_error(text).fix(); };
  EXPECT_EQ(suggestion("[runtime]\nThreads = 4\n"), "did you mean 'threads'?");
  EXPECT_EQ(suggestion("[runtime]\nthraeds = 4\n"), "did you mean 'threads'?");
  EXPECT_EQ(suggestion("[runtime]\nplugin_paths = []\n"), "did you mean 'plugin_path'?");
  EXPECT_EQ(suggestion("[[devices]]\nmatch = \"cpu\"\n"), "did you mean 'device'?");
  EXPECT_EQ(suggestion("[[device]]\nmatch = \"cpu\"\ngpu-layers = 3\n"),
            "did you mean 'gpu_layers'?");
  EXPECT_EQ(suggestion("[[device]]\nbakend = \"cpu\"\n"), "did you mean 'backend'?");
  EXPECT_EQ(suggestion("[[device]]\nmatch = \"cpu\"\nk = \"full\"\n"), "did you mean 'kv'?");
  EXPECT_EQ(suggestion("[runtime]\nwhatever = 1\n"),
            "the keys of [runtime] are plugin_path, threads, context, batch, seed");
  // Far from every key: no guess.
  EXPECT_EQ(suggestion("[[device]]\nmatch = \"cpu\"\nxy = 1\n"),
            "the keys of a [[device]] entry are match, backend, layers, gpu_layers, weights, "
            "kv, options");
}

TEST(ConfigErrors, TheFirstUnknownKeyInTheFileIsReported) {
  // toml++ keeps keys sorted; the message must follow the file instead.
  EXPECT_EQ(parse_error("[runtime]\nzzz = 1\naaa = 2\n").key(), "runtime.zzz");
}

TEST(ConfigErrors, BadLayerSpecs) {
  EXPECT_EQ(std::string(parse_error("[[device]]\nmatch = \"cpu\"\nlayers = \"5-3\"\n").what()),
            "test.toml:3:10: layer range 5-3 runs backwards (key 'device[0].layers'): write the "
            "lower layer first: \"3-5\"");
  for (const char* bad : {"\"abc\"", "\"-3\"", "\"1-\"", "\"3-x\"", "\"\"", "\"99999999999\""}) {
    SCOPED_TRACE(bad);
    const ConfigError error =
        parse_error(std::string("[[device]]\nmatch = \"cpu\"\nlayers = ") + bad + "\n");
    EXPECT_EQ(error.where(), (SourceLocation{"test.toml", 3, 10}));
    EXPECT_THAT(error.problem(), HasSubstr("is not a layer spec"));
  }
  EXPECT_EQ(std::string(parse_error("[[device]]\nmatch = \"cpu\"\ngpu_layers = -2\n").what()),
            "test.toml:3:14: gpu_layers must be 0 or more, got -2 (key 'device[0].gpu_layers'): "
            "write it like gpu_layers = 24");
  EXPECT_EQ(
      std::string(
          parse_error("[[device]]\nmatch = \"cpu\"\nlayers = \"all\"\ngpu_layers = 2\n").what()),
      "test.toml:4:14: both 'layers' and 'gpu_layers' are set (key 'device[0].gpu_layers'): keep "
      "one: layers = \"0-23\" names the layers, gpu_layers = 24 counts them");
}

TEST(ConfigErrors, BadRuntimeNumbers) {
  EXPECT_EQ(parse_error("[runtime]\nthreads = -1\n").problem(),
            "threads must be 0 (one per physical core) or more, got -1");
  EXPECT_EQ(parse_error("[runtime]\nthreads = 4294967296\n").problem(),
            "threads must be 0 (one per physical core) or more, got 4294967296");
  EXPECT_EQ(parse_error("[runtime]\nbatch = 0\n").problem(), "batch must be 1 or more, got 0");
  EXPECT_EQ(parse_error("[runtime]\ncontext = -5\n").problem(),
            "context must be 0 (the model's context) or more, got -5");
  EXPECT_EQ(parse_error("[runtime]\nseed = -2\n").problem(),
            "seed must be -1 (the default) or a seed of 0 or more, got -2");
  EXPECT_EQ(parse_error("[runtime]\nplugin_path = [\"\"]\n").problem(),
            "an empty plugin directory");
}

ConfigError budget_error(const std::string& value) {
  return parse_error("[[device]]\nmatch = \"cpu\"\nkv = { budget = " + value + " }\n");
}

TEST(ConfigErrors, BadKvBudgets) {
  EXPECT_EQ(std::string(budget_error("1.5").what()),
            "test.toml:3:17: budget 1.5 is not a fraction in (0, 1] (key 'device[0].kv.budget'): "
            "give a fraction of the full cache in (0, 1] (budget = 0.25), a percentage (\"25%\"), "
            "a size (\"512MiB\", \"2GB\") or a number of tokens (\"4096 tokens\")");
  EXPECT_EQ(budget_error("0.0").problem(), "budget 0 is not a fraction in (0, 1]");
  EXPECT_EQ(budget_error("-0.5").problem(), "budget -0.5 is not a fraction in (0, 1]");
  EXPECT_EQ(budget_error("nan").problem(), "budget nan is not a fraction in (0, 1]");
  EXPECT_EQ(budget_error("1").problem(), "expected a float or a string, got integer");
  EXPECT_EQ(budget_error("\"512\"").problem(), "budget \"512\" has no unit");
  EXPECT_EQ(budget_error("\"5 parsecs\"").problem(),
            "unknown unit 'parsecs' in budget \"5 parsecs\"");
  EXPECT_EQ(budget_error("\"150%\"").problem(), "budget \"150%\" is not a percentage in (0, 100]");
  EXPECT_EQ(budget_error("\"0 tokens\"").problem(),
            "budget \"0 tokens\" is not a whole number of tokens (at least 1)");
  EXPECT_EQ(budget_error("\"0.5 B\"").problem(),
            "budget \"0.5 B\" is not a whole number of bytes (at least 1)");
  EXPECT_EQ(budget_error("\"lots\"").problem(), "\"lots\" is not a KV budget");
}

TEST(ConfigErrors, BadDeviceEntries) {
  EXPECT_EQ(std::string(parse_error("[[device]]\nlayers = \"all\"\n").what()),
            "test.toml:1:1: this [[device]] entry names no device (key 'device[0]'): set match "
            "(\"cpu\", \"cuda:0\", \"any-gpu\", ...) or backend");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"\"\n").problem(), "'match' is empty");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cpu\"\nweights = \"\"\n").problem(),
            "'weights' is empty");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cpu\"\nkv = { policy = \"\" }\n").key(),
            "device[0].kv.policy");
}

TEST(ConfigErrors, OnlyOneDeviceMayTakeTheRest) {
  EXPECT_EQ(
      std::string(
          parse_error("[[device]]\nmatch = \"cuda:0\"\n\n[[device]]\nmatch = \"cpu\"\n").what()),
      "test.toml:4:1: a second device takes \"rest\" (layers defaults to \"rest\"); device[0] at "
      "test.toml:1:1 already does (key 'device[1].layers'): give this entry a range (layers = "
      "\"0-23\"), a count (gpu_layers = 24) or layers = \"none\"");
  EXPECT_EQ(parse_error("[[device]]\nmatch = \"cuda:0\"\nlayers = \"rest\"\n[[device]]\nmatch = "
                        "\"cpu\"\nlayers = \"rest\"\n")
                .where(),
            (SourceLocation{"test.toml", 6, 10}));
}

// ---------------------------------------------------------------- placement

TEST(Placement, DefaultsPutEveryLayerOnTheCpu) {
  const PlacementPlan plan = plan_placement(default_config(), 22, inventory({cpu()}));
  EXPECT_THAT(spans(plan), ElementsAre(Span{"cpu", 0, 21}));
  EXPECT_EQ(plan.assignments[0].backend, "cpu");
  EXPECT_EQ(plan.assignments[0].weights, "native");
  EXPECT_EQ(plan.assignments[0].kv.policy, "full");
  EXPECT_EQ(plan.input_device, 0u);
  EXPECT_EQ(plan.output_device, 0u);
  EXPECT_TRUE(plan.notes.empty());
}

constexpr const char* kPartialOffload = R"([[device]]
match = "cuda:0"
backend = "cuda"
gpu_layers = 24
weights = "nf4"
kv = { policy = "h2o", budget = 0.25, recent = 0.5 }

[[device]]
match = "cpu"
layers = "rest"
)";

TEST(Placement, PartialOffloadPutsTheFirstNLayersOnTheGpuAndTheRestOnTheCpu) {
  const PlacementPlan plan =
      plan_placement(parse(kPartialOffload), 32, inventory({cpu(), cuda(0), cuda(1)}));
  EXPECT_THAT(spans(plan), ElementsAre(Span{"cuda:0", 0, 23}, Span{"cpu", 24, 31}));
  EXPECT_EQ(plan.assignments[0].device_index, 0u);
  EXPECT_EQ(plan.assignments[0].backend, "cuda");
  EXPECT_EQ(plan.assignments[0].weights, "nf4");
  EXPECT_EQ(plan.assignments[0].kv.policy, "h2o");
  EXPECT_EQ(plan.assignments[0].kv.options.at("recent"), "0.5");
  EXPECT_EQ(plan.assignments[1].device_index, 1u);
  EXPECT_EQ(plan.assignments[1].weights, "native");
  EXPECT_EQ(plan.devices[0].index, 0u);
  EXPECT_EQ(plan.input_device, 0u);
  EXPECT_EQ(plan.output_device, 1u);
  EXPECT_EQ(plan.assignment_for(23).device_name, "cuda:0");
  EXPECT_EQ(plan.assignment_for(24).device_name, "cpu");
  EXPECT_THROW((void)plan.assignment_for(32), Error);
  EXPECT_EQ(plan.describe(),
            "layers 0-23 on cuda:0 (backend cuda), weights nf4, kv h2o (budget 0.25, "
            "recent=0.5)\n"
            "layers 24-31 on cpu (backend cpu), weights native, kv full (budget 1)\n"
            "token embeddings on cuda:0, output head on cpu\n");
}

TEST(Placement, ACountLargerThanTheModelTakesEveryLayerAndSaysSo) {
  const PlacementPlan plan = plan_placement(
      parse("[[device]]\nmatch = \"cuda:0\"\ngpu_layers = 99\n[[device]]\nmatch = \"cpu\"\n"), 32,
      inventory({cpu(), cuda(0)}));
  EXPECT_THAT(spans(plan), ElementsAre(Span{"cuda:0", 0, 31}));
  EXPECT_THAT(plan.notes,
              ElementsAre("device[0] (cuda:0): gpu_layers = 99 but only 32 unassigned layers "
                          "were left; it takes 32",
                          "device[1] (cpu): \"rest\" is empty; the other entries take every "
                          "layer"));
}

TEST(Placement, RangesFirstThenCountsInOrderThenTheRest) {
  const PlacementPlan plan = plan_placement(
      parse(R"([[device]]
match = "discrete-gpu"
gpu_layers = 10
[[device]]
match = "cpu"
layers = "rest"
[[device]]
match = "integrated-gpu"
layers = "4-7"
[[device]]
match = "cuda:0"
gpu_layers = 3
)"),
      24, inventory({cpu(), hip(0, HEARTH_DEVICE_IGPU), hip(1, HEARTH_DEVICE_GPU), cuda(0)}));
  EXPECT_THAT(spans(plan),
              ElementsAre(Span{"hip:1", 0, 3}, Span{"hip:0", 4, 7}, Span{"hip:1", 8, 13},
                          Span{"cuda:0", 14, 16}, Span{"cpu", 17, 23}));
  EXPECT_EQ(plan.devices[0].backend, "hip");
  EXPECT_EQ(plan.devices[0].index, 1u);
}

TEST(Placement, ARestDeviceFillsEveryGap) {
  const PlacementPlan plan = plan_placement(
      parse("[[device]]\nmatch = \"cpu\"\n[[device]]\nmatch = \"any-gpu\"\nlayers = \"8-15\"\n"),
      32, inventory({cpu(), hip(0, HEARTH_DEVICE_IGPU), cuda(0)}));
  EXPECT_THAT(spans(plan),
              ElementsAre(Span{"cpu", 0, 7}, Span{"hip:0", 8, 15}, Span{"cpu", 16, 31}));
  EXPECT_EQ(plan.input_device, 0u);
  EXPECT_EQ(plan.output_device, 0u);
}

TEST(Placement, MatchesByNameAndByType) {
  auto device_for = [](const std::string& entry, const DeviceInventory& inv) {
    return plan_placement(parse("[[device]]\n" + entry + "\nlayers = \"all\"\n"), 4, inv)
        .devices[0]
        .name;
  };
  const auto inv =
      inventory({cpu(), hip(0, HEARTH_DEVICE_IGPU), hip(1, HEARTH_DEVICE_GPU), cuda(0), cuda(1)});
  EXPECT_EQ(device_for("match = \"cuda:1\"", inv), "cuda:1");
  EXPECT_EQ(device_for("match = \"any-gpu\"", inv), "hip:0");
  EXPECT_EQ(device_for("match = \"any-gpu\"\nbackend = \"cuda\"", inv), "cuda:0");
  EXPECT_EQ(device_for("match = \"discrete-gpu\"", inv), "hip:1");
  EXPECT_EQ(device_for("match = \"integrated-gpu\"", inv), "hip:0");
  EXPECT_EQ(device_for("backend = \"cuda\"", inv), "cuda:0");
}

TEST(Placement, ABackendThatIsNotLoadedNamesWhatIs) {
  const ConfigError error = placement_error(kPartialOffload, 32, inventory({cpu()}));
  EXPECT_EQ(std::string(error.what()),
            "test.toml:3:11: backend 'cuda' is not loaded (loaded: cpu) (key "
            "'device[0].backend'): check [runtime].plugin_path or HEARTH_PLUGIN_PATH (`hearth "
            "plugins` lists what was found and what was refused)");
  const ConfigError none =
      error_from([] { (void)plan_placement(default_config(), 4, DeviceInventory{}); });
  EXPECT_EQ(none.where(), (SourceLocation{"<built-in defaults>", 0, 0}));
  EXPECT_EQ(none.problem(), "backend 'cpu' is not loaded (loaded: none)");
}

TEST(Placement, AMatchWithNoSuchDevice) {
  const auto inv = inventory({cpu(), cuda(0)});
  EXPECT_EQ(std::string(placement_error("[[device]]\nmatch = \"cuda:1\"\n", 4, inv).what()),
            "test.toml:2:9: no device matches 'cuda:1' (available: cpu, cuda:0) (key "
            "'device[0].match'): match an available device (`hearth devices` lists them) or "
            "\"any-gpu\", or use a profile for this machine");
  EXPECT_EQ(placement_error("[[device]]\nmatch = \"integrated-gpu\"\n", 4, inv).problem(),
            "no device fits 'integrated-gpu' (available: cpu, cuda:0)");
  EXPECT_EQ(
      placement_error("[[device]]\nmatch = \"cuda:0\"\nbackend = \"cpu\"\n", 4, inv).problem(),
      "device 'cuda:0' belongs to backend 'cuda', not 'cpu'");
  DeviceInventory no_amd_gpu = inventory({cpu()});
  no_amd_gpu.backends.push_back("hip");
  const ConfigError empty_backend =
      placement_error("[[device]]\nbackend = \"hip\"\n", 4, no_amd_gpu);
  EXPECT_EQ(empty_backend.problem(), "backend 'hip' reports no devices");
  EXPECT_EQ(empty_backend.where(), (SourceLocation{"test.toml", 2, 11}));
}

TEST(Placement, ALayerRangeOutsideTheModel) {
  const auto error =
      placement_error("[[device]]\nmatch = \"cpu\"\nlayers = \"0-40\"\n", 32, inventory({cpu()}));
  EXPECT_EQ(std::string(error.what()),
            "test.toml:3:10: layers 0-40 but the model has 32 layers (0-31) (key "
            "'device[0].layers'): use layers within 0-31, or \"rest\" for whatever the other "
            "devices leave");
  EXPECT_EQ(placement_error("[[device]]\nmatch = \"cpu\"\nlayers = \"1\"\n", 1, inventory({cpu()}))
                .problem(),
            "layers 1 but the model has 1 layer (0)");
}

TEST(Placement, OverlappingRanges) {
  const auto error = placement_error(
      "[[device]]\nmatch = \"cuda:0\"\nlayers = \"0-15\"\n[[device]]\nmatch = \"cpu\"\nlayers = "
      "\"10-31\"\n",
      32, inventory({cpu(), cuda(0)}));
  EXPECT_EQ(std::string(error.what()),
            "test.toml:6:10: layers 10-31 overlap layers 0-15 of device[0] at test.toml:1:1 "
            "(layers 10-15 on both) (key 'device[1].layers'): give each layer to one device");
  EXPECT_EQ(placement_error("[[device]]\nmatch = \"cuda:0\"\nlayers = \"all\"\n[[device]]\nmatch = "
                            "\"cpu\"\nlayers = \"31\"\n",
                            32, inventory({cpu(), cuda(0)}))
                .problem(),
            "layers 31 overlap layers 0-31 of device[0] at test.toml:1:1 (layer 31 on both)");
}

TEST(Placement, LayersLeftWithoutADevice) {
  const auto error = placement_error(
      "[[device]]\nmatch = \"cuda:0\"\nlayers = \"2-15\"\n[[device]]\nmatch = \"cpu\"\nlayers = "
      "\"20-29\"\n",
      32, inventory({cpu(), cuda(0)}));
  EXPECT_EQ(std::string(error.what()),
            "test.toml:1:1: layers 0-1, 16-19, 30-31 of the 32 layers (0-31) are on no device "
            "(key 'device'): add layers = \"rest\" to one [[device]], or widen a range");
  EXPECT_EQ(
      placement_error("[[device]]\nmatch = \"cpu\"\nlayers = \"none\"\n", 1, inventory({cpu()}))
          .problem(),
      "layer 0 of the 1 layer (0) is on no device");
}

TEST(Placement, AModelWithoutLayersIsRefused) {
  EXPECT_THROW((void)plan_placement(default_config(), 0, inventory({cpu()})), Error);
}

// ---------------------------------------------------------------- robustness

TEST(ConfigErrors, BytesThatAreNotUtf8AreMalformedToml) {
  const ConfigError error = parse_error("[runtime]\nthreads = 4 # \xff\xfe\n");
  EXPECT_EQ(error.where().line, 2);
  EXPECT_THAT(error.problem(), HasSubstr("malformed TOML"));
  EXPECT_THAT(parse_error(std::string("[runtime]\0\n", 12)).problem(), HasSubstr("malformed TOML"));
}

// Damaged profiles either load and place, or fail with a ConfigError; never anything else.
TEST(ConfigErrors, DamagedProfilesFailOnlyWithConfigErrors) {
  std::ifstream in(kSourceDir / "configs" / "gpu-cpu-split.toml");
  std::stringstream original;
  original << in.rdbuf();
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::string alphabet = "[]{}=\"'#.,-_ 0123456789\nacdeglmnoprstuy\xff";
  const auto inv = inventory({cpu(), cuda(0)});
  for (int trial = 0; trial < 500; ++trial) {
    std::string text = original.str();
    for (int edit = 0; edit < 3; ++edit) {
      const size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          text.erase(at, 1);
          break;
      }
    }
    try {
      (void)plan_placement(parse(text), 1 + static_cast<int>(rng() % 40), inv);
    } catch (const ConfigError&) {
    } catch (const std::exception& error) {
      ADD_FAILURE() << "not a ConfigError: " << error.what() << "\n" << text;
    }
  }
}

// ---------------------------------------------------------------- with real plugins

TEST(DeviceInventory, WithoutBackendPluginsTheDefaultsNameTheMissingCpuBackend) {
  TempDir empty;
  RegistryOptions options;
  options.search_path = {empty.path()};
  options.use_environment = false;
  options.use_default = false;
  const PluginRegistry registry(options);
  const DeviceInventory inv = device_inventory(registry);
  EXPECT_TRUE(inv.backends.empty());
  EXPECT_TRUE(inv.devices.empty());
  EXPECT_EQ(std::string(error_from([&] { (void)plan_placement(default_config(), 4, inv); }).what()),
            "<built-in defaults>: backend 'cpu' is not loaded (loaded: none) (key "
            "'device[0].backend'): check [runtime].plugin_path or HEARTH_PLUGIN_PATH (`hearth "
            "plugins` lists what was found and what was refused)");
}

TEST(DeviceInventory, ListsTheLoadedBackendsAndTheirDevices) {
  RegistryOptions options;
  options.search_path = {kPluginDir};
  options.use_environment = false;
  options.use_default = false;
  PluginRegistry registry(options);
  if (!registry.has(PluginKind::backend, "cpu"))
    GTEST_SKIP() << "backend-cpu is not built in " << kPluginDir;
  const DeviceInventory inv = device_inventory(registry);
  EXPECT_NE(std::find(inv.backends.begin(), inv.backends.end(), "cpu"), inv.backends.end());
  const PlacementPlan plan = plan_placement(default_config(), 4, inv);
  EXPECT_THAT(spans(plan), ElementsAre(Span{"cpu", 0, 3}));
}

}  // namespace
}  // namespace hearth

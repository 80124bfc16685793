// The hearth CLI and hosts/embed-example run end to end on the shared models and produce what
// llama.cpp produces (../shared/reference): the main job, perplexity, inspect, quantize, chat,
// config files and bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "../support/run_command.hpp"

namespace {

namespace fs = std::filesystem;
using hearth::test::hearth_binary;
using hearth::test::run_command;

const std::string kShared = HEARTH_TEST_SHARED_DIR;
const std::string kStories = kShared + "/models/stories260K.gguf";
const std::string kValidation = kShared + "/models/tinystories/validation_100.txt";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string sh_quote(const std::string& s) { return "'" + s + "'"; }

// A scratch folder per test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("hearth-e2e-" + std::string(info->test_suite_name()) +
                                         "-" + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string hearth(const std::string& arguments) { return hearth_binary() + " " + arguments; }

double parse_perplexity(const std::string& output) {
  std::smatch m;
  if (!std::regex_search(output, m, std::regex(R"(PPL = ([0-9.]+))"))) return -1;
  return std::stod(m[1].str());
}

TEST(CliRun, GreedyStoriesPrintsExactlyWhatLlamaCliPrints) {
  const auto r = run_command(hearth("run -m " + sh_quote(kStories) +
                                    " -p 'Once upon a time' -n 100 --temp 0 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, read_file(kShared + "/reference/stories260K.greedy-100.txt"));
}

TEST(CliRun, ReportsPromptAndGenerationSpeedOnStderr) {
  const auto r = run_command(hearth("run -m " + sh_quote(kStories) +
                                    " -p 'Once upon a time' -n 8 --temp 0 2>&1 >/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("prompt 5 tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("generation 8 tokens"), std::string::npos) << r.output;
}

TEST(CliRun, TheSameSeedGivesTheSameSampledText) {
  const std::string cmd = hearth("run -m " + sh_quote(kStories) +
                                 " -p 'Once upon a time' -n 40 --temp 0.9 --top-k 40 --seed 7 "
                                 "2>/dev/null");
  const auto a = run_command(cmd);
  const auto b = run_command(cmd);
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.output, b.output);
  const auto c = run_command(hearth("run -m " + sh_quote(kStories) +
                                    " -p 'Once upon a time' -n 40 --temp 0.9 --top-k 40 --seed 8 "
                                    "2>/dev/null"));
  EXPECT_NE(a.output, c.output) << "different seeds gave the same 40 sampled tokens";
}

TEST(CliRun, APromptLongerThanTheContextIsAClearError) {
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "Once upon a time ";
  const auto r = run_command(
      hearth("run -m " + sh_quote(kStories) + " -c 16 -p " + sh_quote(prompt) + " -n 4 2>&1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("16"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("context"), std::string::npos) << r.output;
}

TEST(CliRun, InvalidUtf8InThePromptNamesTheByteOffset) {
  const auto r = run_command(
      hearth("run -m " + sh_quote(kStories) + " -p \"$(printf 'ab\\377cd')\" -n 4 2>&1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("UTF-8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2"), std::string::npos) << r.output;
}

TEST(CliRun, AMissingOrTruncatedModelIsAClearError) {
  ScratchDir dir;
  const auto missing = run_command(hearth("run -m /nonexistent/model.gguf -p x 2>&1"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/model.gguf"), std::string::npos) << missing.output;

  const std::string bytes = read_file(kStories);
  const fs::path cut = dir.path() / "cut.gguf";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 100000);
  const auto truncated = run_command(hearth("run -m " + sh_quote(cut.string()) + " -p x 2>&1"));
  EXPECT_EQ(truncated.exit_code, 1);
  EXPECT_NE(truncated.output.find("cut.gguf"), std::string::npos) << truncated.output;
}

TEST(CliPerplexity, StoriesAtContext128MatchesLlamaPerplexity) {
  const auto r = run_command(hearth("perplexity -m " + sh_quote(kStories) + " -f " +
                                    sh_quote(kValidation) + " -c 128 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NEAR(parse_perplexity(r.output), 6.1780, 0.001) << r.output;
  EXPECT_NE(r.output.find("chunks 318"), std::string::npos) << r.output;
}

TEST(CliInspect, ShowsMetadataAndTensorsOfStories) {
  const auto r = run_command(hearth("inspect " + sh_quote(kStories) + " 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* expected : {"general.architecture", "llama", "tokenizer.ggml.tokens",
                               "token_embd.weight", "blk.4.ffn_norm.weight"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected;
}

TEST(CliInspect, JsonListsEveryTensorWithTypeShapeAndOffset) {
  const auto r = run_command(hearth("inspect --json " + sh_quote(kStories)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto doc = nlohmann::json::parse(r.output);
  ASSERT_EQ(doc["tensors"].size(), 48u);
  const auto& first = doc["tensors"][0];
  EXPECT_EQ(first["name"], "token_embd.weight");
  EXPECT_EQ(first["shape"], nlohmann::json::array({64, 512}));
  EXPECT_TRUE(first.contains("offset"));
  EXPECT_TRUE(first.contains("bytes"));
  EXPECT_EQ(doc["metadata"]["general.architecture"]["value"], "llama");
}

TEST(CliInspect, OpensEveryVocabularyFile) {
  int opened = 0;
  for (const auto& entry : fs::directory_iterator(kShared + "/models/vocab")) {
    if (entry.path().extension() != ".gguf") continue;
    const auto r = run_command(hearth("inspect " + sh_quote(entry.path().string()) + " 2>&1"));
    EXPECT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.output.substr(0, 2000);
    EXPECT_NE(r.output.find("tokenizer.ggml.model"), std::string::npos) << entry.path();
    ++opened;
  }
  EXPECT_GE(opened, 7);
}

class CliQuantize : public ::testing::TestWithParam<std::string> {};

TEST_P(CliQuantize, WritesAFileThatLoadsRunsAndScoresCloseToTheOriginal) {
  ScratchDir dir;
  const std::string type = GetParam();
  const fs::path out = dir.path() / (type + ".gguf");
  const auto q = run_command(hearth("quantize " + sh_quote(kStories) + " " +
                                    sh_quote(out.string()) + " " + type + " 2>&1"));
  ASSERT_EQ(q.exit_code, 0) << q.output;

  const auto info = run_command(hearth("inspect --json " + sh_quote(out.string())));
  ASSERT_EQ(info.exit_code, 0) << info.output;
  const auto doc = nlohmann::json::parse(info.output);
  bool saw_type = false;
  for (const auto& t : doc["tensors"]) {
    const std::string name = t["name"];
    const std::string ttype = t["type"];
    if (t["shape"].size() == 1) {
      EXPECT_EQ(ttype, "F32") << name << ": 1-D tensors stay F32";
    }
    // stories260K's 64-wide rows do not fit K-quant blocks (256), so Q4_K_M falls back like
    // llama-quantize does (to Q5_0 and F16): any quantized type shows the recipe ran.
    if (type == "Q4_K_M" ? ttype[0] == 'Q' : ttype == type) saw_type = true;
  }
  EXPECT_TRUE(saw_type) << "no tensor of type " << type;
  EXPECT_EQ(doc["metadata"]["tokenizer.ggml.model"]["value"], "llama") << "metadata kept";

  // A fortieth of the validation text keeps this quick; the original model scores it too.
  const fs::path text = dir.path() / "text.txt";
  const std::string validation = read_file(kValidation);
  std::ofstream(text, std::ios::binary) << validation.substr(0, validation.size() / 40);
  auto score = [&](const std::string& model) {
    const auto r = run_command(hearth("perplexity -m " + sh_quote(model) + " -f " +
                                      sh_quote(text.string()) + " -c 128 2>/dev/null"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return parse_perplexity(r.output);
  };
  const double original = score(kStories);
  const double quantized = score(out.string());
  ASSERT_GT(original, 1.0);
  // stories260K is tiny (64-wide rows), so 4-bit types cost it more than they cost real models.
  const double tolerance = type == "F16" ? 0.002 : type == "Q8_0" ? 0.01 : 0.15;
  EXPECT_NEAR(quantized / original, 1.0, tolerance) << original << " -> " << quantized;
}

INSTANTIATE_TEST_SUITE_P(Types, CliQuantize, ::testing::Values("F16", "Q8_0", "Q4_0", "Q4_K_M"));

TEST(CliQuantize, AnUnknownTypeListsTheKnownOnes) {
  ScratchDir dir;
  const auto r = run_command(hearth("quantize " + sh_quote(kStories) + " " +
                                    sh_quote((dir.path() / "x.gguf").string()) + " Q4_K_Z 2>&1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("Q4_K_M"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "x.gguf"));
}

TEST(CliChat, HoldsATwoTurnConversationFromStdin) {
  const auto r = run_command("printf 'Hello there\\nTell me a story\\n/exit\\n' | " +
                             hearth("chat -m " + sh_quote(kStories) + " -n 12 --temp 0 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ChatML"), std::string::npos)
      << "stories260K has no template: " << r.output;
  size_t prompts = 0;
  for (size_t at = r.output.find("> "); at != std::string::npos; at = r.output.find("> ", at + 2))
    ++prompts;
  EXPECT_GE(prompts, 3u) << r.output;
}

TEST(CliConfig, AConfigFileSetsTheDeviceAndContext) {
  ScratchDir dir;
  const fs::path config = dir.path() / "cpu.toml";
  std::ofstream(config) << "[runtime]\nthreads = 1\ncontext = 16\n\n[[device]]\nmatch = \"cpu\"\n"
                           "layers = \"all\"\n";
  std::string prompt;
  for (int i = 0; i < 10; ++i) prompt += "Once upon a time ";
  const auto r =
      run_command(hearth("run -m " + sh_quote(kStories) + " --config " + sh_quote(config.string()) +
                         " -p " + sh_quote(prompt) + " 2>&1"));
  EXPECT_EQ(r.exit_code, 1) << "context = 16 must make a 41-token prompt too long: " << r.output;
  const auto ok = run_command(hearth("run -m " + sh_quote(kStories) + " --config " +
                                     sh_quote(config.string()) + " -p Once -n 4 --temp 0 2>&1"));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST(CliConfig, AWrongKeyNamesFileLineAndTheClosestKey) {
  ScratchDir dir;
  const fs::path config = dir.path() / "bad.toml";
  std::ofstream(config) << "[runtime]\nthreds = 2\n";
  const auto r = run_command(hearth("run -m " + sh_quote(kStories) + " --config " +
                                    sh_quote(config.string()) + " -p Once 2>&1"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.toml:2:1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("threads"), std::string::npos) << r.output;
}

// Partial offload by config: each [[device]] entry runs its range of layers (here two cpu
// devices; cuda + cpu on the H200 in docs/benchmarks.md), the ranges are named on stderr, and the
// greedy text is the single-device text.
TEST(CliConfig, ASplitAcrossDevicesRunsEachRangeOnItsDevice) {
  ScratchDir dir;
  const fs::path config = dir.path() / "split.toml";
  std::ofstream(config) << "[[device]]\nmatch = \"cpu\"\nlayers = \"0-2\"\n"
                           "[[device]]\nmatch = \"cpu\"\nlayers = \"rest\"\n";
  const auto r =
      run_command(hearth("run -m " + sh_quote(kStories) + " --config " + sh_quote(config.string()) +
                         " -p 'Once upon a time' -n 40 --temp 0 2>&1"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("layers 0-2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("layers 3-4"), std::string::npos) << r.output;
  const std::string reference = read_file(kShared + "/reference/stories260K.greedy-100.txt");
  EXPECT_NE(r.output.find(reference.substr(0, 120)), std::string::npos) << r.output;
}

// A KV policy from the command line and from a config's kv table reaches the session: `run -v`
// reports the policy and exactly the budget's bytes (16 tokens x 640 bytes on stories260K), and
// perplexity runs under it.
TEST(CliKvPolicy, FlagsAndConfigSetThePolicyAndBudget) {
  const auto flags = run_command(hearth("run -m " + sh_quote(kStories) +
                                        " -p 'Once upon a time' -n 30 --temp 0 -v --kv-policy "
                                        "window --kv-budget '16 tokens' 2>&1"));
  ASSERT_EQ(flags.exit_code, 0) << flags.output;
  EXPECT_NE(flags.output.find("KV cache (policy window): 10240 bytes used"), std::string::npos)
      << flags.output;

  ScratchDir dir;
  const fs::path config = dir.path() / "kv.toml";
  std::ofstream(config) << "[[device]]\nmatch = \"cpu\"\nlayers = \"all\"\n"
                           "kv = { policy = \"h2o\", budget = \"16 tokens\", recent = 0.5 }\n";
  const auto configured =
      run_command(hearth("run -m " + sh_quote(kStories) + " --config " + sh_quote(config.string()) +
                         " -p 'Once upon a time' -n 30 --temp 0 -v 2>&1"));
  ASSERT_EQ(configured.exit_code, 0) << configured.output;
  EXPECT_NE(configured.output.find("KV cache (policy h2o): 10240 bytes used"), std::string::npos)
      << configured.output;

  const fs::path text = dir.path() / "text.txt";
  std::ofstream(text) << read_file(kValidation).substr(0, 3000);
  const auto ppl =
      run_command(hearth("perplexity -m " + sh_quote(kStories) + " -f " + sh_quote(text.string()) +
                         " -c 64 --kv-policy h2o --kv-budget 0.5 2>/dev/null"));
  ASSERT_EQ(ppl.exit_code, 0) << ppl.output;
  EXPECT_GT(parse_perplexity(ppl.output), 1.0) << ppl.output;
  EXPECT_NE(ppl.output.find("KV cache (policy h2o): at most"), std::string::npos) << ppl.output;

  const auto bad = run_command(hearth("run -m " + sh_quote(kStories) +
                                      " -p x -n 1 --kv-policy h2o --kv-option recnet=0.3 2>&1"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("recnet"), std::string::npos) << bad.output;
}

TEST(EmbedExample, StreamsTheSameGreedyTextAsTheCli) {
  const auto r = run_command(std::string(HEARTH_TEST_BIN_DIR) + "/hearth-embed-example " +
                             sh_quote(kStories) + " 'Once upon a time' 40 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string reference = read_file(kShared + "/reference/stories260K.greedy-100.txt");
  const std::string generated_part = reference.substr(std::string(" Once upon a time").size());
  ASSERT_GT(r.output.size(), 40u);
  // The example prints the generated text and a newline; 40 tokens are a prefix of 100.
  EXPECT_EQ(generated_part.substr(0, r.output.size() - 1), r.output.substr(0, r.output.size() - 1));
}

}  // namespace

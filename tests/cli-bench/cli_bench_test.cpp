// `hearth synth` and `hearth bench`, run as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <hearth/gguf.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/run_command.hpp"

namespace hearth::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::string kShared = HEARTH_TEST_SHARED_DIR;
const std::string kEnv = "env -u HEARTH_PLUGIN_PATH HEARTH_VOCAB_DIR=" + kShared + "/models/vocab ";

std::string hearth() { return kEnv + hearth_binary(); }

std::string read_bytes(const std::filesystem::path& path) {
  std::string bytes(std::filesystem::file_size(path), '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// One stories15M-shaped Q8_0 file shared by the tests that read it (writing it is the slow part).
class SynthStories15M : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        std::filesystem::temp_directory_path() / ("hearth-cli-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    result_ = run_command(hearth() + " synth --shape stories15M --type Q8_0 --seed 7 -o " +
                          model().string() + " 2>&1");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::filesystem::path model() { return dir_ / "stories15M-Q8_0.gguf"; }

  static inline std::filesystem::path dir_;
  static inline CommandResult result_;
};

TEST_F(SynthStories15M, WritesAFileOurReaderValidatesWithTheRealShape) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  EXPECT_THAT(result_.output, AllOf(HasSubstr("stories15M shape"), HasSubstr("Q8_0")));
  const GgufFile file = GgufFile::open(model());
  EXPECT_EQ(file.get_string("general.architecture"), "llama");
  EXPECT_EQ(file.get_int("llama.embedding_length"), 288);
  EXPECT_EQ(file.get_int("llama.block_count"), 6);
  EXPECT_EQ(file.get_int("llama.attention.head_count"), 6);
  EXPECT_EQ(file.get_int("llama.feed_forward_length"), 768);
  EXPECT_EQ(file.get_uint("general.file_type"), 7u);  // LLAMA_FTYPE_MOSTLY_Q8_0
  ASSERT_NE(file.get_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(file.get_array("tokenizer.ggml.tokens")->values.size(), 32000u);
  EXPECT_EQ(file.tensors().size(), 1u + 6u * 9u + 2u);
  const GgufTensorInfo* embd = file.tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne, (std::vector<int64_t>{288, 32000}));
  const GgufTensorInfo* down = file.tensor("blk.5.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne, (std::vector<int64_t>{768, 288}));
  EXPECT_EQ(down->type, 8u);  // Q8_0
  const GgufTensorInfo* norm = file.tensor("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->type, 0u);  // norms stay F32
}

TEST_F(SynthStories15M, InspectListsTheExpectedTensorShapes) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  auto r = run_command(hearth() + " inspect --json " + model().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : json["tensors"]) shapes[t["name"]] = t["shape"].get<std::vector<int64_t>>();
  EXPECT_EQ(shapes["blk.0.attn_q.weight"], (std::vector<int64_t>{288, 288}));
  EXPECT_EQ(shapes["blk.0.attn_k.weight"], (std::vector<int64_t>{288, 288}));
  EXPECT_EQ(shapes["blk.3.ffn_gate.weight"], (std::vector<int64_t>{288, 768}));
  EXPECT_EQ(shapes["output.weight"], (std::vector<int64_t>{288, 32000}));
  EXPECT_EQ(shapes["output_norm.weight"], (std::vector<int64_t>{288}));
}

TEST_F(SynthStories15M, RunsWithHearthRun) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  auto r = run_command(hearth() + " run -m " + model().string() +
                       " -p 'Once upon a time' -n 4 --temp 0 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(SynthStories15M, TheSameSeedGivesTheSameBytes) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  const auto again = dir_ / "again.gguf";
  auto r = run_command(hearth() + " synth --shape stories15M --type Q8_0 --seed 7 -o " +
                       again.string() + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string a = read_bytes(model()), b = read_bytes(again);
  EXPECT_GT(a.size(), 15'000'000u);
  EXPECT_TRUE(a == b) << "two runs with seed 7 wrote different files";
}

TEST(CliBench, JsonHoldsEveryTestWithItsSamples) {
  auto r = run_command(hearth() + " bench -m " + kShared +
                       "/models/stories260K.gguf -p 16 -n 8 -r 2 -t 1 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["test"], "pp16");
  EXPECT_EQ(json[0]["n_prompt"], 16);
  EXPECT_EQ(json[1]["test"], "tg8");
  EXPECT_EQ(json[1]["n_gen"], 8);
  for (const auto& entry : json) {
    EXPECT_EQ(entry["architecture"], "llama");
    EXPECT_EQ(entry["backend"], "cpu");
    EXPECT_EQ(entry["n_threads"], 1);
    EXPECT_EQ(entry["repetitions"], 2);
    EXPECT_EQ(entry["model_n_params"], 292800);
    EXPECT_GT(entry["model_size"].get<uint64_t>(), 1'000'000u);
    ASSERT_EQ(entry["samples_ts"].size(), 2u);
    ASSERT_EQ(entry["samples_ns"].size(), 2u);
    for (const auto& ts : entry["samples_ts"]) EXPECT_GT(ts.get<double>(), 0.0);
    EXPECT_GT(entry["avg_ts"].get<double>(), 0.0);
    EXPECT_GE(entry["stddev_ts"].get<double>(), 0.0);
  }
}

TEST(CliBench, PrintsAMarkdownTableAndSkipsZeroCounts) {
  auto r = run_command(hearth() + " bench -m " + kShared +
                       "/models/stories260K.gguf -p 8,0 -n 0 -r 1 -t 1 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("| model"), HasSubstr(" t/s |"), HasSubstr("pp8"),
                    HasSubstr("stories260K.gguf"), HasSubstr("0.29 M"), HasSubstr(" ± ")));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("tg")));
}

// -d fills the context before each test (llama-bench's depth); a KV policy applies to every test.
TEST(CliBench, DepthAndKvPolicyNameTheTests) {
  auto r = run_command(hearth() + " bench -m " + kShared +
                       "/models/stories260K.gguf -p 0 -n 4 -d 0,40 -r 1 -t 1 --kv-policy h2o "
                       "--kv-budget 0.5 --json 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["test"], "tg4");
  EXPECT_EQ(json[0]["n_depth"], 0);
  EXPECT_EQ(json[1]["test"], "tg4 @ d40");
  EXPECT_EQ(json[1]["n_depth"], 40);
  EXPECT_EQ(json[1]["kv_policy"], "h2o");
  r = run_command(hearth() + " bench -m " + kShared +
                  "/models/stories260K.gguf -p 0 -n 2 -d 8 -r 1 -t 1 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("| tg2 @ d8 |"));
}

TEST(CliBenchErrors, BadArgumentsSayWhatIsWrong) {
  const std::string model = " -m " + kShared + "/models/stories260K.gguf";
  auto r = run_command(hearth() + " bench" + model + " -r 0 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--repetitions must be at least 1"));
  r = run_command(hearth() + " bench" + model + " -p 12,x 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--n-prompt takes token counts"));
  r = run_command(hearth() + " bench" + model + " -d 1,y 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--n-depth takes token counts"));
  r = run_command(hearth() + " bench" + model + " -n 2 -p 0 --kv-policy nosuch 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("nosuch"));
  r = run_command(hearth() + " bench" + model + " -p 0 -n 0 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("nothing to measure"));
  r = run_command(hearth() + " bench -m /nonexistent/model.gguf 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("/nonexistent/model.gguf"));
}

TEST(CliSynthErrors, BadArgumentsSayWhatIsWrong) {
  auto r = run_command(hearth() + " synth --shape llama9-70b -o /tmp/x.gguf 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, AllOf(HasSubstr("unknown shape 'llama9-70b'"), HasSubstr("tinyllama-1.1b"),
                              HasSubstr("qwen2-0.5b"), HasSubstr("stories15M")));
  r = run_command(hearth() + " synth --shape stories15M --type Q9_X -o /tmp/x.gguf 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, AllOf(HasSubstr("unknown type 'Q9_X'"), HasSubstr("Q4_K_M")));
  r = run_command(hearth() + " synth --shape stories15M 2>&1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--output"));
  r = run_command("env -u HEARTH_VOCAB_DIR -u HEARTH_SHARED_DIR " + hearth_binary() +
                  " synth --shape stories15M -o /tmp/x.gguf 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, AllOf(HasSubstr("ggml-vocab-llama-spm.gguf"), HasSubstr("--vocab")));
  r = run_command(hearth() + " synth --shape stories15M -o /nonexistent-dir/x.gguf 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("/nonexistent-dir"));
}

}  // namespace
}  // namespace hearth::test

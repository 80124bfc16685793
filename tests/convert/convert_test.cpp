// `hearth convert`: stories260K pruned to CS256 (magnitude and Wanda) writes a GGUF whose pruned
// matrices are CS256 tensors, which `hearth inspect` reads and `hearth perplexity` scores with the
// cpu backend's CS256 kernels; --to nf4 goes through the quantize path; bad flags give errors
// naming the flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
using ::testing::HasSubstr;

const std::string kShared = HEARTH_TEST_SHARED_DIR;
const std::string kStories = kShared + "/models/stories260K.gguf";
const std::string kValidation = kShared + "/models/tinystories/validation_100.txt";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
std::string hearth(const std::string& arguments) {
  return hearth_binary() + " " + arguments + " 2>&1";
}

class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("hearth-convert-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

double number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) return -1;
  return std::stod(m[1].str());
}

// A short slice of the validation text keeps these runs quick.
fs::path short_text(const ScratchDir& dir) {
  std::ifstream in(kValidation, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  const fs::path out = dir.path() / "text.txt";
  std::ofstream(out, std::ios::binary) << s.str().substr(0, s.str().size() / 40);
  return out;
}

TEST(Convert, Cs256MagnitudeAndWandaFilesLoadAndScore) {
  ScratchDir dir;
  const fs::path text = short_text(dir);
  const auto dense =
      run_command(hearth("perplexity -m " + q(kStories) + " -f " + q(text) + " -c 128"));
  ASSERT_EQ(dense.exit_code, 0) << dense.output;
  const double ppl_dense = number_after(dense.output, R"(PPL = ([0-9.]+))");
  for (const std::string& calib : {std::string(), " --calib " + q(text)}) {
    const fs::path out = dir.path() / "sparse.gguf";
    const auto r = run_command(
        hearth("convert --to cs256 --sparsity 0.5 -m " + q(kStories) + " -o " + q(out) + calib));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr(calib.empty() ? "magnitude" : "wanda"));
    const double bpw = number_after(r.output, R"(cs256: ([0-9.]+) bytes/weight)");
    // 50 % of 16-bit values plus 8-bit indices: 1.5 bytes, plus pointers and the header.
    EXPECT_GT(bpw, 1.5);
    EXPECT_LT(bpw, 1.9);
    EXPECT_NEAR(number_after(r.output, R"(achieved sparsity ([0-9.]+))"), 0.5, 0.01);
    const auto inspect = run_command(hearth("inspect " + q(out)));
    ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
    // The file type names Hearth's type (as NF4 files do), not the dense source's F16.
    EXPECT_THAT(inspect.output, ::testing::ContainsRegex(R"(general\.file_type +UINT32 +1025)"));
    EXPECT_THAT(inspect.output, ::testing::ContainsRegex(R"(blk\.0\.attn_q\.weight +CS256 )"));
    const auto p = run_command(hearth("perplexity -m " + q(out) + " -f " + q(text) + " -c 128"));
    ASSERT_EQ(p.exit_code, 0) << p.output;
    EXPECT_THAT(p.output, ::testing::Not(HasSubstr("converting them to F32")));
    const double ppl = number_after(p.output, R"(PPL = ([0-9.]+))");
    // The same pruned weights expanded to dense F32 by the format's reference (hearth quantize
    // ... F32 dequantizes every CS256 tensor) must score the same through the dense kernels.
    const fs::path dense_copy = dir.path() / "pruned-f32.gguf";
    const auto d = run_command(hearth("quantize " + q(out) + " " + q(dense_copy) + " F32"));
    ASSERT_EQ(d.exit_code, 0) << d.output;
    const auto pd =
        run_command(hearth("perplexity -m " + q(dense_copy) + " -f " + q(text) + " -c 128"));
    ASSERT_EQ(pd.exit_code, 0) << pd.output;
    EXPECT_NEAR(ppl, number_after(pd.output, R"(PPL = ([0-9.]+))"), ppl * 1e-3);
    // Pruning half of every matrix of this 260K-parameter model costs quality.
    EXPECT_GT(ppl, ppl_dense);
  }
}

TEST(Convert, Nf4RoutesToTheQuantizePath) {
  ScratchDir dir;
  const fs::path out = dir.path() / "nf4.gguf";
  const auto r = run_command(hearth("convert --to nf4 -m " + q(kStories) + " -o " + q(out)));
  if (r.output.find("unknown quantization type 'NF4'") != std::string::npos)
    GTEST_SKIP() << "the NF4 recipe is not in this build yet: " << r.output;
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("nf4"));
  EXPECT_TRUE(fs::exists(out));
}

TEST(Convert, BadFlagsSayWhatIsWrong) {
  ScratchDir dir;
  const std::string io = " -m " + q(kStories) + " -o " + q(dir.path() / "x.gguf");
  const std::pair<std::string, std::string> cases[] = {
      {"convert --to cs256 --sparsity 1.5" + io, "sparsity 1.5"},
      {"convert --to cs256 --sparsity -0.1" + io, "out of range"},
      {"convert --to cs256 --values fp8" + io, "unknown values type 'fp8'"},
      {"convert --to cs256 --vec 6" + io, "vec 6 must be 4, 8 or 16"},
      {"convert --to zip" + io, "unknown target format 'zip'"},
      {"convert --to nf4 --sparsity 0.5" + io, "--sparsity applies to --to cs256 only"},
      {"convert --to cs256 --calib " + q(dir.path() / "missing.txt") + io, "not a readable file"},
      {"convert --sparsity 0.5" + io, "--to is required"},
      {"convert --to cs256 -m " + q(dir.path() / "none.gguf") + " -o " + q(dir.path() / "y.gguf"),
       "none.gguf"},
  };
  for (const auto& [args, expected] : cases) {
    const auto r = run_command(hearth(args));
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_THAT(r.output, HasSubstr(expected)) << args;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "x.gguf"));
}

}  // namespace

// NF4 end to end: a model quantized with the NF4 recipe holds NF4 tensors (and Q8_0 / F16 /
// F32 where the recipe says), loads on the cpu backend without conversion to F32, and its logits
// on the reference prompt (shared/reference/<model>.logits.json, llama.cpp's unquantized ones)
// are compared with those of the same model quantized to Q4_0.
#include <gtest/gtest.h>

#include <hearth/gguf.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/quantize.hpp>
#include <hearth/session.hpp>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

namespace hearth {
namespace {

namespace fs = std::filesystem;
const fs::path kShared = HEARTH_TEST_SHARED_DIR;

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

double kl_divergence(const std::vector<float>& p_logits, const std::vector<float>& q_logits) {
  auto log_softmax = [](const std::vector<float>& v) {
    const double max = *std::max_element(v.begin(), v.end());
    double sum = 0;
    for (float x : v) sum += std::exp(x - max);
    std::vector<double> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] - max - std::log(sum);
    return out;
  };
  const auto lp = log_softmax(p_logits), lq = log_softmax(q_logits);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

struct LogitStats {
  double max_delta = 0;
  double mean_kl = 0;
  double argmax_rate = 0;
};

// The model's decode-path logits on the reference prompt against llama.cpp's unquantized ones.
LogitStats compare_logits(const fs::path& model_file, const nlohmann::json& ref) {
  const auto tokens = ref["tokens"].get<std::vector<int32_t>>();
  const auto ref_logits = ref["logits"].get<std::vector<std::vector<float>>>();
  std::vector<std::string> notices;
  ModelOptions options;
  options.notice = [&](const std::string& n) { notices.push_back(n); };
  auto model = Model::load(model_file, plugins(), options);
  for (const auto& n : notices)
    EXPECT_EQ(n.find("NF4"), std::string::npos) << n;  // no F32 fallback
  Session session(model, {.n_ctx = 128});
  LogitStats s;
  double kl_sum = 0;
  size_t same_argmax = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto logits = session.decode(std::span(&tokens[i], 1));
    EXPECT_EQ(logits.size(), ref_logits[i].size());
    if (logits.size() != ref_logits[i].size()) return s;
    for (size_t v = 0; v < logits.size(); ++v)
      s.max_delta = std::max(s.max_delta, double(std::fabs(logits[v] - ref_logits[i][v])));
    kl_sum += kl_divergence(ref_logits[i], logits);
    same_argmax +=
        std::max_element(logits.begin(), logits.end()) - logits.begin() ==
        std::max_element(ref_logits[i].begin(), ref_logits[i].end()) - ref_logits[i].begin();
  }
  s.mean_kl = kl_sum / double(tokens.size());
  s.argmax_rate = double(same_argmax) / double(tokens.size());
  return s;
}

class Nf4Model : public ::testing::TestWithParam<std::string> {};

// NF4 and Q4_0 spend the same 4.5 bits per weight; NF4's logits must be at least about as close
// to the unquantized model's as Q4_0's (Q4_0 is quantized from the same file by the same tool).
TEST_P(Nf4Model, LogitsAreAsCloseToTheUnquantizedModelAsQ4_0s) {
  const std::string name = GetParam();
  const fs::path input = name == "stories260K"
                             ? kShared / "models" / "stories260K.gguf"
                             : kShared / "models" / "synthetic" / (name + ".gguf");
  const fs::path dir = fs::temp_directory_path() / ("hearth_nf4_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path nf4 = dir / (name + "-NF4.gguf");
  const fs::path q4_0 = dir / (name + "-Q4_0.gguf");
  const auto report = quantize_model(input, nf4, "NF4", plugins());
  quantize_model(input, q4_0, "Q4_0", plugins());

  const auto file = GgufFile::open(nf4);
  int64_t nf4_tensors = 0;
  for (const auto& t : file.tensors()) {
    if (t.type == HEARTH_DTYPE_NF4) ++nf4_tensors;
    if (t.name == "token_embd.weight" || t.name == "output.weight") {
      EXPECT_EQ(t.type, HEARTH_DTYPE_Q8_0) << t.name;
    }
    if (t.ne.size() == 1) {
      EXPECT_EQ(t.type, HEARTH_DTYPE_F32) << t.name;
    }
  }
  EXPECT_GT(nf4_tensors, 0);

  std::ifstream in(kShared / "reference" / (name + ".logits.json"));
  const auto ref = nlohmann::json::parse(in);
  const LogitStats a = compare_logits(nf4, ref);
  const LogitStats b = compare_logits(q4_0, ref);
  std::cout << name << ": " << nf4_tensors << " NF4 tensors, " << report.bytes_in << " -> "
            << report.bytes_out << " bytes\n  NF4  vs reference: max |dlogit| " << a.max_delta
            << ", mean KL " << a.mean_kl << ", argmax agreement " << a.argmax_rate
            << "\n  Q4_0 vs reference: max |dlogit| " << b.max_delta << ", mean KL " << b.mean_kl
            << ", argmax agreement " << b.argmax_rate << "\n";
  EXPECT_LE(a.mean_kl, 1.5 * b.mean_kl) << name;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Models, Nf4Model, ::testing::Values("stories260K", "llama-small-F16"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string n = param.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace hearth

// BatchDecoder: several sessions decoded in one forward pass give the logits each session's own
// decode() gives, and the per-sequence generator reproduces generate().
#include <gtest/gtest.h>
#include <hearth/batch.hpp>
#include <hearth/error.hpp>
#include <hearth/generate.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/sequence_generator.hpp>
#include <hearth/session.hpp>

#include <cmath>
#include <filesystem>

namespace hearth {
namespace {

namespace fs = std::filesystem;
const fs::path kShared = HEARTH_TEST_SHARED_DIR;

std::shared_ptr<Model> load(const fs::path& path) {
  static PluginRegistry registry([] {
    RegistryOptions o;
    o.search_path = {HEARTH_TEST_PLUGIN_DIR};
    o.use_environment = false;
    o.use_default = false;
    return o;
  }());
  ModelOptions options;
  options.backend_options["threads"] = "2";
  return Model::load(path, registry, options);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

class BatchedModel : public ::testing::TestWithParam<std::string> {};

// Three prompts of different lengths: prefilled together, then decoded a token at a time
// together, against each decoded alone in its own session.
TEST_P(BatchedModel, BatchedLogitsEqualOneSequenceAtATime) {
  auto model = load(kShared / "models" / GetParam());
  const Tokenizer& tok = model->tokenizer();
  const std::vector<std::string> prompts = {"Once upon a time",
                                            "The little dog ran to the park and", "Lily"};
  // An F32 cache isolates batching: with F16, a 1e-7 change in K/V from another summation order
  // can cross an F16 rounding boundary and move logits by ~1e-3.
  SessionOptions so;
  so.n_ctx = 128;
  so.n_batch = 64;
  so.kv_type = KvType::f32;
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::unique_ptr<Session>> alone, batched;
  for (const auto& p : prompts) {
    tokens.push_back(tok.encode(p, true, true));
    alone.push_back(std::make_unique<Session>(model, so));
    batched.push_back(std::make_unique<Session>(model, so));
  }
  BatchDecoder decoder(model, 64, 3);
  std::vector<SequenceStep> steps(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i)
    steps[i] = SequenceStep{batched[i].get(), tokens[i], true, {}};
  decoder.decode(steps);
  float worst = 0;
  std::vector<int32_t> next(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto ref = alone[i]->decode(tokens[i]);
    worst = std::max(worst, max_abs_diff(ref, steps[i].logits));
    next[i] = static_cast<int32_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
  }
  for (int round = 0; round < 8; ++round) {
    for (size_t i = 0; i < prompts.size(); ++i) steps[i].tokens = std::span(&next[i], 1);
    decoder.decode(steps);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto ref = alone[i]->decode(std::span(&next[i], 1));
      worst = std::max(worst, max_abs_diff(ref, steps[i].logits));
      next[i] = static_cast<int32_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
      EXPECT_EQ(alone[i]->history(), batched[i]->history());
    }
  }
  RecordProperty("max_abs_logit_diff", std::to_string(worst));
  EXPECT_LE(worst, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(Models, BatchedModel,
                         ::testing::Values("stories260K.gguf", "synthetic/llama-small-Q4_0.gguf"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string n = fs::path(param_info.param).stem().string();
                           for (auto& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(BatchDecoder, BadStepsAreRefusedAndChangeNothing) {
  auto model = load(kShared / "models" / "stories260K.gguf");
  Session a(model, {8, 8}), b(model, {8, 8});
  BatchDecoder decoder(model, 4, 2);
  const std::vector<int32_t> two = {1, 2}, five = {1, 2, 3, 4, 5}, bad = {1, 1 << 30};
  std::vector<SequenceStep> twice = {{&a, two, true, {}}, {&a, two, true, {}}};
  EXPECT_THROW(decoder.decode(twice), Error);
  std::vector<SequenceStep> too_many = {{&a, two, true, {}}, {&b, five, true, {}}};
  EXPECT_THROW(decoder.decode(too_many), Error);
  std::vector<SequenceStep> out_of_vocab = {{&a, two, true, {}}, {&b, bad, true, {}}};
  EXPECT_THROW(decoder.decode(out_of_vocab), Error);
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_EQ(b.n_past(), 0);
}

// The generator fed the same logits makes the same text and stop as generate().
TEST(SequenceGenerator, ReproducesGenerate) {
  auto model = load(kShared / "models" / "stories260K.gguf");
  const auto prompt = model->tokenizer().encode("Once upon a time", true, true);
  SamplerParams sp;
  sp.seed = 42;
  GenerateOptions go;
  go.max_tokens = 60;
  go.stop = {"park"};
  Session s1(model, {256, 64});
  Sampler sampler(sp);
  std::string expected;
  const auto stats = generate(s1, sampler, prompt, go, [&](std::string_view t) {
    expected += t;
    return true;
  });

  Session s2(model, {256, 64});
  SequenceGenerator gen(model->tokenizer(), sp, go);
  std::string got;
  auto logits = s2.decode(prompt);
  for (;;) {
    auto step = gen.advance(logits, s2);
    got += step.text;
    if (!step.next) break;
    const int32_t t = *step.next;
    logits = s2.decode(std::span(&t, 1));
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(gen.stop_reason(), stats.stop);
  EXPECT_EQ(gen.generated_tokens(), stats.generated_tokens);
}

}  // namespace
}  // namespace hearth

// End to end on real models: our tokens, logits and greedy tokens against llama.cpp's
// (shared/reference/<model>.logits.json, tolerances from shared/reference/README.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hearth/convert.hpp>
#include <hearth/error.hpp>
#include <hearth/generate.hpp>
#include <hearth/gguf.hpp>
#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/quantize.hpp>
#include <hearth/session.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include <unistd.h>

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

struct Reference {
  std::string model;
  std::string prompt;
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;
  std::vector<int32_t> greedy;
};

Reference read_reference(const std::string& name) {
  std::ifstream in(kShared / "reference" / (name + ".logits.json"));
  auto j = nlohmann::json::parse(in);
  return Reference{j["model"], j["prompt"], j["tokens"].get<std::vector<int32_t>>(),
                   j["logits"].get<std::vector<std::vector<float>>>(),
                   j["greedy"].get<std::vector<int32_t>>()};
}

fs::path model_path(const std::string& name) {
  return name == "stories260K" ? kShared / "models" / "stories260K.gguf"
                               : kShared / "models" / "synthetic" / (name + ".gguf");
}

bool is_float_model(const std::string& name) {
  return name == "stories260K" || name.find("F16") != std::string::npos;
}

// KL(softmax(ref) || softmax(ours)).
double kl_divergence(const std::vector<float>& ref, const float* ours, size_t n) {
  auto log_softmax = [n](auto get) {
    double max = -INFINITY;
    for (size_t i = 0; i < n; ++i) max = std::max(max, double(get(i)));
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(double(get(i)) - max);
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = double(get(i)) - max - std::log(sum);
    return out;
  };
  auto lp = log_softmax([&](size_t i) { return ref[i]; });
  auto lq = log_softmax([&](size_t i) { return ours[i]; });
  double kl = 0;
  for (size_t i = 0; i < n; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

size_t argmax(const float* v, size_t n) { return size_t(std::max_element(v, v + n) - v); }

// Decodes the reference prompt token by token on the given backend, then greedily, and holds
// the logits and tokens to shared/reference/README.md's tolerances.
void expect_reference_logits_and_greedy(const std::string& name, const ModelOptions& options) {
  const Reference ref = read_reference(name);
  auto model = Model::load(model_path(name), plugins(), options);
  const size_t n_vocab = static_cast<size_t>(model->hparams().n_vocab);

  const auto tokens = model->tokenizer().encode(ref.prompt, true, false);
  ASSERT_EQ(tokens, ref.tokens) << "tokenization differs from llama.cpp";

  Session session(model, {.n_ctx = 128});
  double kl_sum = 0, max_delta = 0;
  size_t same_argmax = 0;
  std::vector<float> last;
  for (size_t i = 0; i < tokens.size(); ++i) {
    last = session.decode(std::span(&tokens[i], 1));  // llama.cpp's decode path, token by token
    ASSERT_EQ(last.size(), n_vocab);
    const auto& r = ref.logits[i];
    for (size_t v = 0; v < n_vocab; ++v)
      max_delta = std::max(max_delta, double(std::fabs(r[v] - last[v])));
    kl_sum += kl_divergence(r, last.data(), n_vocab);
    same_argmax += argmax(r.data(), n_vocab) == argmax(last.data(), n_vocab);
  }
  const double mean_kl = kl_sum / double(tokens.size());
  const double argmax_rate = double(same_argmax) / double(tokens.size());
  ::testing::Test::RecordProperty("max_delta", std::to_string(max_delta));
  ::testing::Test::RecordProperty("mean_kl", std::to_string(mean_kl));
  if (is_float_model(name)) {
    EXPECT_LE(max_delta, 0.02) << name;
    EXPECT_LE(mean_kl, 1e-5) << name;
  } else {
    EXPECT_LE(mean_kl, 1e-3) << name;
    EXPECT_GE(argmax_rate, 0.9) << name;
  }

  // Greedy continuation, token by token from the prompt's last logits.
  std::vector<int32_t> greedy;
  for (size_t i = 0; i < ref.greedy.size(); ++i) {
    const int32_t next = static_cast<int32_t>(argmax(last.data(), n_vocab));
    greedy.push_back(next);
    last = session.decode(std::span(&next, 1));
  }
  size_t matching = 0;
  while (matching < greedy.size() && greedy[matching] == ref.greedy[matching]) ++matching;
  std::cout << name << ": max |dlogit| " << max_delta << ", mean KL " << mean_kl
            << ", argmax agreement " << argmax_rate << ", greedy prefix " << matching << "/"
            << ref.greedy.size() << "\n";
  if (is_float_model(name)) {
    EXPECT_EQ(greedy, ref.greedy) << name;
  }
}

class ReferenceModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceModel, TokensLogitsAndGreedyMatchLlamaCpp) {
  expect_reference_logits_and_greedy(GetParam(), {});
}

TEST_P(ReferenceModel, APromptDecodedInUnevenBatchesMatchesTheReference) {
  const std::string name = GetParam();
  const Reference ref = read_reference(name);
  auto model = Model::load(model_path(name), plugins());
  const size_t n_vocab = static_cast<size_t>(model->hparams().n_vocab);
  Session batched(model, {.n_ctx = 64, .n_batch = 5});  // batches of 5 cross the prompt unevenly
  const auto all = batched.decode(ref.tokens, true);
  ASSERT_EQ(all.size(), ref.tokens.size() * n_vocab);
  for (size_t i = 0; i < ref.tokens.size(); ++i) {
    double kl = kl_divergence(ref.logits[i], all.data() + i * n_vocab, n_vocab);
    EXPECT_LE(kl, is_float_model(name) ? 1e-5 : 1e-3) << name << " position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(SharedModels, ReferenceModel,
                         ::testing::Values("stories260K", "llama-small-F16", "llama-small-Q8_0",
                                           "llama-small-Q4_0", "llama-small-Q4_1",
                                           "llama-small-Q5_0", "llama-small-Q5_1",
                                           "llama-small-Q2_K", "llama-small-Q3_K_M",
                                           "llama-small-Q4_K_M", "llama-small-Q5_K_M",
                                           "llama-small-Q6_K", "qwen2-small-F16",
                                           "qwen2-small-Q4_K_M"),
                         [](const auto& test_param) {
                           std::string n = test_param.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The same reference check with every layer on a GPU backend; skipped where the plugin finds
// no device (CI has none: docs/benchmarks.md records the runs on the lent H200).
class ReferenceModelOnGpu : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {
};

TEST_P(ReferenceModelOnGpu, TokensLogitsAndGreedyMatchLlamaCpp) {
  const auto& [backend, name] = GetParam();
  if (!plugins().has(PluginKind::backend, backend))
    GTEST_SKIP() << "no " << backend << " backend plugin was built";
  if (plugins().backend(backend).devices().empty())
    GTEST_SKIP() << "the " << backend << " backend finds no device on this machine";
  ModelOptions options;
  options.backend = backend;
  expect_reference_logits_and_greedy(name, options);
}

INSTANTIATE_TEST_SUITE_P(
    SharedModels, ReferenceModelOnGpu,
    ::testing::Combine(::testing::Values("cuda", "hip"),
                       ::testing::Values("stories260K", "llama-small-F16", "llama-small-Q8_0",
                                         "llama-small-Q4_0", "llama-small-Q4_1", "llama-small-Q5_0",
                                         "llama-small-Q5_1", "llama-small-Q2_K",
                                         "llama-small-Q3_K_M", "llama-small-Q4_K_M",
                                         "llama-small-Q5_K_M", "llama-small-Q6_K",
                                         "qwen2-small-F16", "qwen2-small-Q4_K_M")),
    [](const auto& test_param) {
      std::string n = std::get<0>(test_param.param) + "_" + std::get<1>(test_param.param);
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST(Session, APromptLongerThanTheContextIsAClearErrorAndChangesNothing) {
  auto model = Model::load(kShared / "models" / "stories260K.gguf", plugins());
  Session session(model, {.n_ctx = 8});
  std::vector<int32_t> tokens(9, 1);
  EXPECT_THAT([&] { session.decode(tokens); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("context holds 8 tokens")));
  EXPECT_EQ(session.n_past(), 0);
  std::vector<int32_t> bad = {1, 100000};
  EXPECT_THAT([&] { session.decode(bad); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("outside the vocabulary")));
}

// The cpu backend keeps llama.cpp's F16 cache by default; an F32 cache, when asked for, also
// meets the F16-model tolerance (its products are not rounded like llama.cpp's, but nearly).
TEST(Session, KeepsAnF16KvCacheByDefaultAndF32WhenAsked) {
  const Reference ref = read_reference("stories260K");
  auto model = Model::load(model_path("stories260K"), plugins());
  const size_t n_vocab = static_cast<size_t>(model->hparams().n_vocab);
  Session f16(model, {.n_ctx = 64});
  Session f32(model, {.n_ctx = 64, .kv_type = KvType::f32});
  EXPECT_EQ(f16.kv_type(), KvType::f16);
  EXPECT_EQ(f32.kv_type(), KvType::f32);
  const auto logits_f16 = f16.decode(ref.tokens, true);
  const auto logits_f32 = f32.decode(ref.tokens, true);
  EXPECT_NE(logits_f16, logits_f32) << "the cache type made no difference";
  for (size_t i = 0; i < ref.tokens.size(); ++i) {
    EXPECT_LE(kl_divergence(ref.logits[i], logits_f16.data() + i * n_vocab, n_vocab), 1e-5);
    EXPECT_LE(kl_divergence(ref.logits[i], logits_f32.data() + i * n_vocab, n_vocab), 1e-5);
  }
}

// Partial offload's mechanics without a GPU: layers 0-2 on one cpu device and 3-4 on a second,
// separately opened one (its own memory and threads). The residual stream crosses through the
// host, exactly, so every logit equals the single-device run's; on a GPU machine the same split
// of cuda + cpu is checked in docs/benchmarks.md.
TEST(Model, LayersSplitAcrossTwoDevicesGiveTheSameLogits) {
  const Reference ref = read_reference("stories260K");
  auto whole = Model::load(model_path("stories260K"), plugins());
  ModelOptions split_options;
  split_options.layer_ranges = {{"cpu", 0, {}, 0, 2}, {"cpu", 0, {}, 3, 4}};
  auto split = Model::load(model_path("stories260K"), plugins(), split_options);
  ASSERT_EQ(split->device_count(), 2u);
  EXPECT_EQ(split->device_index_of_layer(2), 0u);
  EXPECT_EQ(split->device_index_of_layer(3), 1u);
  EXPECT_EQ(split->output_device_index(), 1u);
  Session a(whole, {.n_ctx = 64});
  Session b(split, {.n_ctx = 64});
  EXPECT_EQ(a.decode(ref.tokens, true), b.decode(ref.tokens, true));
  for (int32_t token : {5, 17, 300}) {
    const std::vector<int32_t> one = {token};
    EXPECT_EQ(a.decode(one), b.decode(one));
  }
}

TEST(Model, LayerRangesMustCoverEveryLayerOnce) {
  ModelOptions gap;
  gap.layer_ranges = {{"cpu", 0, {}, 0, 1}, {"cpu", 0, {}, 3, 4}};
  EXPECT_THAT([&] { Model::load(model_path("stories260K"), plugins(), gap); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("where layer 2 was expected")));
  ModelOptions short_of;
  short_of.layer_ranges = {{"cpu", 0, {}, 0, 3}};
  EXPECT_THAT([&] { Model::load(model_path("stories260K"), plugins(), short_of); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("has 5 layers")));
}

// weights = "nf4" converts the matrices at load exactly as `hearth quantize ... NF4` writes them
// (the token embeddings, looked up on the host, stay as stored): a file holding the quantized
// matrices and the original embeddings gives the same logits.
TEST(Model, WeightsConvertedToNf4AtLoadEqualQuantizedMatrices) {
  const Reference ref = read_reference("stories260K");
  const auto nf4_file = fs::temp_directory_path() / "hearth-test-stories260K-nf4.gguf";
  const auto mixed_file = fs::temp_directory_path() / "hearth-test-stories260K-nf4-matrices.gguf";
  quantize_model(model_path("stories260K"), nf4_file, "NF4", plugins());
  {
    const GgufFile original = GgufFile::open(model_path("stories260K"));
    const GgufFile quantized = GgufFile::open(nf4_file);
    GgufWriter writer(original.alignment());
    for (const auto& kv : original.metadata()) writer.set(kv.key, kv.value);
    for (const auto& t : original.tensors()) {
      const GgufTensorInfo& from = t.name == "token_embd.weight" ? t : *quantized.tensor(t.name);
      writer.add_tensor(from.name, from.type, from.ne, std::span(from.data, from.nbytes));
    }
    writer.write(mixed_file);
  }
  ModelOptions at_load;
  std::vector<std::string> notices;
  at_load.weights = "nf4";
  at_load.notice = [&](const std::string& line) { notices.push_back(line); };
  auto converted = Model::load(model_path("stories260K"), plugins(), at_load);
  auto from_file = Model::load(mixed_file, plugins());
  auto native = Model::load(model_path("stories260K"), plugins());
  Session a(converted, {.n_ctx = 64});
  Session b(from_file, {.n_ctx = 64});
  Session c(native, {.n_ctx = 64});
  const auto logits = a.decode(ref.tokens, true);
  const auto from_file_logits = b.decode(ref.tokens, true);
  const auto native_logits = c.decode(ref.tokens, true);
  ASSERT_EQ(logits.size(), from_file_logits.size());
  // The same weights, but the CPU backend multiplies a file's quantized rows through its
  // interleaved copies and a buffer made at load row by row: float sums in another order.
  double to_file = 0, to_native = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    to_file = std::max(to_file, double(std::fabs(logits[i] - from_file_logits[i])));
    to_native = std::max(to_native, double(std::fabs(logits[i] - native_logits[i])));
  }
  std::cout << "max |dlogit| to the NF4 file " << to_file << ", to the F32 model " << to_native
            << "\n";
  EXPECT_LE(to_file, 1e-4);
  EXPECT_GE(to_native, 1e-2) << "the NF4 weights made no difference";
  EXPECT_THAT(notices, ::testing::Contains(::testing::HasSubstr("to NF4 at load")));
  fs::remove(nf4_file);
  fs::remove(mixed_file);
}

// The same weights taken by two routes (a GPU backend against the cpu; CS256's F16-activation
// kernels against dense weights): the prompt in one batch (the GPU's GEMM route, which rounds
// activations to F16: close, not equal), then three tokens one at a time (decode kernels).
// tie_margin: the argmaxes must agree only where the reference's best logit leads the second by
// more (random-weight models have near ties that rounding differences may flip).
void expect_models_agree(const std::shared_ptr<Model>& gpu_model,
                         const std::shared_ptr<Model>& cpu_model,
                         const std::vector<int32_t>& prompt, float tie_margin = 0.0f) {
  const size_t n_vocab = static_cast<size_t>(cpu_model->hparams().n_vocab);
  Session gpu(gpu_model, {.n_ctx = 64});
  Session cpu(cpu_model, {.n_ctx = 64});
  const auto expect_close = [&](const float* want, const float* got, const std::string& where) {
    const std::vector<float> reference(want, want + n_vocab);
    EXPECT_LE(kl_divergence(reference, got, n_vocab), 1e-3) << where;
    std::vector<float> sorted = reference;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] > tie_margin) {
      EXPECT_EQ(argmax(want, n_vocab), argmax(got, n_vocab)) << where;
    }
  };
  const auto prompt_gpu = gpu.decode(prompt, true);
  const auto prompt_cpu = cpu.decode(prompt, true);
  ASSERT_EQ(prompt_gpu.size(), prompt_cpu.size());
  for (size_t i = 0; i < prompt.size(); ++i)
    expect_close(prompt_cpu.data() + i * n_vocab, prompt_gpu.data() + i * n_vocab,
                 "prompt position " + std::to_string(i));
  for (int32_t token : {5, 17, 300}) {
    const std::vector<int32_t> one = {token};
    const auto g = gpu.decode(one);
    const auto c = cpu.decode(one);
    expect_close(c.data(), g.data(), "decoding token " + std::to_string(token));
  }
}

// NF4 matrices on a GPU backend against the CPU's NF4 kernels on the same converted weights: the
// 16-token prompt in one batch takes the GPU's GEMM route (weights dequantized to F16, cuBLAS),
// the tokens after it the fused decode kernel. Skipped where the plugin finds no device.
class Nf4OnGpu : public ::testing::TestWithParam<std::string> {
 protected:
  void expect_agreement(const std::string& model, float tie_margin) {
    const std::string backend = GetParam();
    if (!plugins().has(PluginKind::backend, backend))
      GTEST_SKIP() << "no " << backend << " backend plugin was built";
    if (plugins().backend(backend).devices().empty())
      GTEST_SKIP() << "the " << backend << " backend finds no device on this machine";
    const Reference ref = read_reference(model);
    ASSERT_GE(ref.tokens.size(), 8u) << "the prompt must be long enough for the GEMM route";
    ModelOptions on_gpu, on_cpu;
    on_gpu.backend = backend;
    on_gpu.weights = on_cpu.weights = "nf4";
    auto gpu_model = Model::load(model_path(model), plugins(), on_gpu);
    auto cpu_model = Model::load(model_path(model), plugins(), on_cpu);
    expect_models_agree(gpu_model, cpu_model, ref.tokens, tie_margin);
  }
};

TEST_P(Nf4OnGpu, PromptAndDecodeAgreeWithTheCpu) { expect_agreement("stories260K", 0.0f); }

// The same on llama-small (n_embd 256, n_ff 768): every row is a multiple of 256 columns, so on an
// sm_90 GPU the decoded tokens take the TMA + tensor-core GEMV (plugins/backend-cuda/
// nf4_gemv_tma.cu, F16 activations and code values) instead of the portable kernel. Its random
// weights leave near ties, so argmaxes are compared only where the CPU leads by 0.1.
TEST_P(Nf4OnGpu, RowsOfWholeStagesAgreeWithTheCpu) { expect_agreement("llama-small-F16", 0.1f); }

INSTANTIATE_TEST_SUITE_P(Backends, Nf4OnGpu, ::testing::Values("cuda", "hip"));

// A file removed when the test leaves, however it leaves.
struct TemporaryFile {
  fs::path path;
  ~TemporaryFile() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
};

// CS256 weights (stories260K pruned to 50 % with F16 values by `hearth convert`'s API) on a GPU
// backend against the CPU's CS256 kernels on the same file: the 16-token prompt in one batch
// takes the GPU's GEMM route (on CUDA: blobs decoded to dense F16, cuBLAS), the tokens after it
// the sparse kernels. Skipped where the plugin finds no device.
class Cs256OnGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(Cs256OnGpu, PromptAndDecodeAgreeWithTheCpu) {
  const std::string backend = GetParam();
  if (!plugins().has(PluginKind::backend, backend))
    GTEST_SKIP() << "no " << backend << " backend plugin was built";
  if (plugins().backend(backend).devices().empty())
    GTEST_SKIP() << "the " << backend << " backend finds no device on this machine";
  const Reference ref = read_reference("stories260K");
  ASSERT_GE(ref.tokens.size(), 8u) << "the prompt must be long enough for the GEMM route";
  const TemporaryFile converted{fs::temp_directory_path() / ("hearth-test-cs256-" + backend + "-" +
                                                             std::to_string(::getpid()) + ".gguf")};
  ConvertOptions convert;
  convert.to = "cs256";
  convert.sparsity = 0.5;
  convert.values = "f16";
  const ConvertReport report =
      convert_model(model_path("stories260K"), converted.path, convert, plugins());
  ASSERT_GT(report.converted, 0) << "no matrix was converted to CS256";
  ModelOptions on_gpu, on_cpu;
  on_gpu.backend = backend;
  auto gpu_model = Model::load(converted.path, plugins(), on_gpu);
  auto cpu_model = Model::load(converted.path, plugins(), on_cpu);
  expect_models_agree(gpu_model, cpu_model, ref.tokens);
}

INSTANTIATE_TEST_SUITE_P(Backends, Cs256OnGpu, ::testing::Values("cuda", "hip"));

// The cpu's CS256 kernels (on an AVX-512 CPU: activations rounded to F16, one token and groups of
// up to 8) against the same pruned weights expanded to dense F32 (`hearth quantize ... F32`), on
// real models: llama-small's whole tiles at 66 % (two windows per chunk) and 75 % (three), and
// stories260K's 64-column partial tiles.
TEST(Model, Cs256KernelsAgreeWithTheDenseExpansionOfTheirWeights) {
  for (const auto& [name, sparsity] : {std::pair<std::string, double>{"llama-small-F16", 0.66},
                                       {"llama-small-F16", 0.75},
                                       {"stories260K", 0.5}}) {
    SCOPED_TRACE(name + " at sparsity " + std::to_string(sparsity));
    const Reference ref = read_reference(name);
    const std::string stem =
        fs::temp_directory_path() / ("hearth-test-cs256-cpu-" + std::to_string(::getpid()));
    const TemporaryFile sparse{stem + ".gguf"}, dense{stem + "-F32.gguf"};
    ConvertOptions convert;
    convert.to = "cs256";
    convert.sparsity = sparsity;
    convert.values = "f16";
    ASSERT_GT(convert_model(model_path(name), sparse.path, convert, plugins()).converted, 0);
    quantize_model(sparse.path, dense.path, "F32", plugins());
    expect_models_agree(Model::load(sparse.path, plugins()), Model::load(dense.path, plugins()),
                        ref.tokens, 0.1f);
  }
}

// A long prompt in one batch takes the cpu's expanded-row GEMM for F16 (80+ tokens) and NF4
// (64+) weights where the build has oneDNN; the same tokens 8 at a time take the row kernels.
// Both are F32 arithmetic summed in different orders, and the batch's attention reads its own
// keys before they are rounded into the F16 cache (KL up to about 4e-6 here): the logits must
// agree closely.
TEST(Model, LongPromptsAgreeWithTheSameTokensInShortSteps) {
  const Reference ref = read_reference("llama-small-F16");
  std::vector<int32_t> prompt;
  while (prompt.size() < 96) prompt.insert(prompt.end(), ref.tokens.begin(), ref.tokens.end());
  prompt.resize(96);
  const TemporaryFile nf4{fs::temp_directory_path() /
                          ("hearth-test-long-prompt-nf4-" + std::to_string(::getpid()) + ".gguf")};
  quantize_model(model_path("llama-small-F16"), nf4.path, "NF4", plugins());
  for (const fs::path& file : {model_path("llama-small-F16"), nf4.path}) {
    SCOPED_TRACE(file.filename().string());
    auto model = Model::load(file, plugins());
    const size_t n_vocab = static_cast<size_t>(model->hparams().n_vocab);
    Session whole(model, {.n_ctx = 128}), steps(model, {.n_ctx = 128});
    const auto all = whole.decode(prompt, true);
    for (size_t t0 = 0; t0 < prompt.size(); t0 += 8) {
      const auto part = steps.decode(std::span(prompt).subspan(t0, 8), true);
      for (size_t i = 0; i < 8; ++i) {
        const std::vector<float> want(part.begin() + i * n_vocab, part.begin() + (i + 1) * n_vocab);
        EXPECT_LE(kl_divergence(want, all.data() + (t0 + i) * n_vocab, n_vocab), 1e-4)
            << "position " << t0 + i;
      }
    }
  }
}

TEST(Model, AnUnknownWeightsChoiceIsRefused) {
  ModelOptions options;
  options.weights = "int3";
  EXPECT_THAT(
      [&] { Model::load(model_path("stories260K"), plugins(), options); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("\"native\" (as stored) or \"nf4\"")));
}

TEST(Model, AnUnsupportedArchitectureIsNamed) {
  GgufWriter writer;
  writer.set("general.architecture", gguf_string("mamba"));
  const auto path = fs::temp_directory_path() / "hearth-test-mamba.gguf";
  writer.write(path);
  EXPECT_THAT([&] { Model::load(path, plugins()); },
              ::testing::ThrowsMessage<Error>(
                  ::testing::HasSubstr("architecture 'mamba' is not supported")));
  fs::remove(path);
}

}  // namespace
}  // namespace hearth

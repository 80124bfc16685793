// `hearth bench -m MODEL -p 512 -n 128 -r 3`: prompt and generation speed, measured as
// llama-bench measures it, so the two tools' tables can be compared line by line.
//   ppN: N prompt tokens in one decode call, from an empty context.
//   tgN: N decode calls of one token each, from an empty context.
//   "... @ dD" (-d D): the same after D random tokens were decoded, untimed (llama-bench's -d),
//   which is how a KV-cache policy's cost at a long context shows.
// Each test runs once untimed (warm-up), then -r times timed.
#include <hearth/model.hpp>
#include <hearth/session.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "model_options.hpp"

namespace hearth::cli {
namespace {

struct BenchTest {
  std::string name;  // "pp512", "tg128", "tg128 @ d4096"
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  int64_t n_depth = 0;
};

struct ModelSummary {
  std::string path, architecture, file_type, label;
  uint64_t size_bytes = 0;  // tensor data, as llama-bench counts it
  uint64_t n_params = 0;
};

struct Samples {
  std::vector<double> ns;  // per repetition
  std::vector<double> tokens_per_second;
};

std::vector<int64_t> parse_counts(const Args& args, const std::string& name) {
  std::vector<int64_t> out;
  std::stringstream in(args.get(name));
  std::string item;
  while (std::getline(in, item, ',')) {
    long long value = 0;
    size_t used = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 0)
      throw UsageError("--" + name + " takes token counts >= 0 separated by commas, got '" +
                       args.get(name) + "'");
    out.push_back(value);
  }
  return out;
}

// llama.cpp's general.file_type (llama_ftype) names, for the model column.
std::string file_type_name(const GgufFile& file) {
  static const std::map<uint64_t, std::string> names = {
      {0, "F32"},
      {1, "F16"},
      {2, "Q4_0"},
      {3, "Q4_1"},
      {7, "Q8_0"},
      {8, "Q5_0"},
      {9, "Q5_1"},
      {10, "Q2_K"},
      {11, "Q3_K_S"},
      {12, "Q3_K_M"},
      {13, "Q3_K_L"},
      {14, "Q4_K_S"},
      {15, "Q4_K_M"},
      {16, "Q5_K_S"},
      {17, "Q5_K_M"},
      {18, "Q6_K"},
      {32, "BF16"},
      // Hearth's own type ids (abi.h), which `hearth quantize` writes as the file type.
      {HEARTH_DTYPE_NF4, "NF4"},
      {HEARTH_DTYPE_CS256, "CS256"}};
  if (auto ftype = file.get_uint("general.file_type")) {
    auto it = names.find(*ftype);
    return it != names.end() ? it->second : "ftype " + std::to_string(*ftype);
  }
  // No file type recorded: name the type holding most bytes.
  std::map<uint32_t, uint64_t> bytes;
  for (const auto& t : file.tensors()) bytes[t.type] += t.nbytes;
  const auto most = std::max_element(
      bytes.begin(), bytes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  if (most == bytes.end()) return "?";
  const auto layout = gguf_builtin_type_layout(most->first);
  return layout ? layout->name : "type " + std::to_string(most->first);
}

std::string params_text(uint64_t n) {
  char text[32];
  if (n >= 1'000'000'000)
    std::snprintf(text, sizeof text, "%.2f B", static_cast<double>(n) * 1e-9);
  else
    std::snprintf(text, sizeof text, "%.2f M", static_cast<double>(n) * 1e-6);
  return text;
}

ModelSummary summarize(const Model& model, const std::string& path) {
  ModelSummary s;
  s.path = path;
  s.architecture = model.hparams().architecture;
  s.file_type = file_type_name(model.gguf());
  for (const auto& t : model.gguf().tensors()) {
    s.size_bytes += t.nbytes;
    s.n_params += static_cast<uint64_t>(t.n_elements());
  }
  char size_class[32];
  const double n = static_cast<double>(s.n_params);
  if (n >= 1e9)
    std::snprintf(size_class, sizeof size_class, "%.1fB", n * 1e-9);
  else if (n >= 1e6)
    std::snprintf(size_class, sizeof size_class, "%.0fM", n * 1e-6);
  else
    std::snprintf(size_class, sizeof size_class, "%.0fK", n * 1e-3);
  s.label = s.architecture + " " + size_class + " " + s.file_type + " (" +
            std::filesystem::path(path).filename().string() + ")";
  return s;
}

// Seconds one run of the test takes; the context starts empty, then holds n_depth tokens
// (decoded in the session's batches) before the clock starts.
double run_once(Session& session, const BenchTest& test, std::mt19937& rng, int64_t n_vocab) {
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(n_vocab - 1));
  session.clear();
  std::vector<int32_t> depth(static_cast<size_t>(test.n_depth));
  for (auto& t : depth) t = token(rng);
  if (!depth.empty()) session.decode(depth);
  std::vector<int32_t> prompt(static_cast<size_t>(test.n_prompt));
  for (auto& t : prompt) t = token(rng);
  std::vector<int32_t> generated(static_cast<size_t>(test.n_gen));
  for (auto& t : generated) t = token(rng);
  const auto start = std::chrono::steady_clock::now();
  if (!prompt.empty()) session.decode(prompt);
  for (size_t i = 0; i < generated.size(); ++i) session.decode(std::span(&generated[i], 1));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Sample standard deviation, as llama-bench reports it; 0 for a single sample.
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double sum = 0.0;
  for (double x : v) sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(v.size() - 1));
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Right-aligns text in `width` columns, counting characters rather than bytes ("±" is two).
std::string right_aligned(const std::string& text, size_t width) {
  const auto chars = static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  return std::string(width > chars ? width - chars : 0, ' ') + text;
}

class Table {
 public:
  Table(size_t model_width, size_t test_width)
      : model_width_(std::max<size_t>(model_width, 5)),
        test_width_(std::max<size_t>(test_width, 7)) {}
  void header() const {
    row("model", "size", "params", "backend", "threads", "test", "t/s");
    std::printf(
        "| %s | ---------: | ---------: | ------- | ------: | %s: | ------------------: |\n",
        std::string(model_width_, '-').c_str(), std::string(test_width_ - 1, '-').c_str());
  }
  void row(const std::string& model, const std::string& size, const std::string& params,
           const std::string& backend, const std::string& threads, const std::string& test,
           const std::string& speed) const {
    std::printf("| %-*s | %10s | %10s | %-7s | %7s | %*s | %s |\n", static_cast<int>(model_width_),
                model.c_str(), size.c_str(), params.c_str(), backend.c_str(), threads.c_str(),
                static_cast<int>(test_width_), test.c_str(), right_aligned(speed, 19).c_str());
    std::fflush(stdout);
  }

 private:
  size_t model_width_;
  size_t test_width_;
};

}  // namespace

int cmd_bench(const Argv& argv) {
  Args args("bench",
            "Measure prompt processing (ppN: N tokens in one step) and generation (tgN: N steps "
            "of one token), each from an empty context, as llama-bench does.");
  args.option("model", "m", "FILE", "the GGUF model file")
      .option("n-prompt", "p", "N[,N...]", "prompt sizes to test; 0 = no prompt test", "512")
      .option("n-gen", "n", "N[,N...]", "generation lengths to test; 0 = no generation test", "128")
      .option("repetitions", "r", "N", "timed runs per test, after one warm-up run", "3")
      .option("threads", "t", "N", "CPU threads; 0 = one per physical core", "0")
      .option("backend", "", "NAME", "backend plugin to run on", "cpu")
      .option("device", "", "INDEX", "device index within the backend", "0")
      .option("n-depth", "d", "N[,N...]",
              "tokens already in the context when each test starts (untimed)", "0")
      .option("kv-type", "", "TYPE", "KV cache type: f16 (llama.cpp's default) or f32", "f16")
      .flag("json", "", "print a JSON array (with every repetition's sample) instead of a table");
  add_kv_policy_options(args);
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;

  const long long repetitions = args.get_int("repetitions");
  const std::string kv_name = args.get("kv-type");
  if (kv_name != "f16" && kv_name != "f32")
    throw UsageError("--kv-type must be f16 or f32, got '" + kv_name + "'");
  const KvType kv_type = kv_name == "f16" ? KvType::f16 : KvType::f32;
  if (repetitions < 1)
    throw UsageError("--repetitions must be at least 1, got " + std::to_string(repetitions));
  if (args.get_int("threads") < 0)
    throw UsageError("--threads must be >= 0 (0 = one per physical core)");
  std::vector<BenchTest> tests;
  for (int64_t d : parse_counts(args, "n-depth")) {
    const std::string at = d > 0 ? " @ d" + std::to_string(d) : "";
    for (int64_t n : parse_counts(args, "n-prompt"))
      if (n > 0) tests.push_back({"pp" + std::to_string(n) + at, n, 0, d});
    for (int64_t n : parse_counts(args, "n-gen"))
      if (n > 0) tests.push_back({"tg" + std::to_string(n) + at, 0, n, d});
  }
  if (tests.empty()) throw UsageError("nothing to measure: every -p and -n value is 0");

  const LoadedModel loaded = load_model(args);
  const Model& model = *loaded.model;
  const ModelSummary summary = summarize(model, args.get("model"));
  const bool json = args.has("json");
  const long long threads = args.get_int("threads");
  const std::string threads_text = threads == 0 ? "auto" : std::to_string(threads);
  const std::string backend = model.device().backend_name();
  size_t test_width = 0;
  for (const BenchTest& test : tests) test_width = std::max(test_width, test.name.size());
  const Table table(summary.label.size(), test_width);
  if (!json) table.header();

  nlohmann::json results = nlohmann::json::array();
  std::mt19937 rng(1234);
  for (const BenchTest& test : tests) {
    SessionOptions options;
    options.kv_type = kv_type;
    options.n_ctx = test.n_depth + test.n_prompt + test.n_gen;
    options.n_batch = std::max({test.n_prompt, std::min<int64_t>(test.n_depth, 512), int64_t{1}});
    apply_kv_policy(args, loaded, options);
    Session session(loaded.model, options);
    std::fprintf(stderr, "bench: %s warm-up\n", test.name.c_str());
    run_once(session, test, rng, model.hparams().n_vocab);
    Samples samples;
    for (long long r = 0; r < repetitions; ++r) {
      const double seconds = run_once(session, test, rng, model.hparams().n_vocab);
      const auto n_tokens = static_cast<double>(test.n_prompt + test.n_gen);
      samples.ns.push_back(seconds * 1e9);
      samples.tokens_per_second.push_back(n_tokens / seconds);
      std::fprintf(stderr, "bench: %s run %lld/%lld: %.2f t/s\n", test.name.c_str(), r + 1,
                   repetitions, n_tokens / seconds);
    }
    const double avg_ts = mean(samples.tokens_per_second);
    const double sd_ts = stddev(samples.tokens_per_second);
    if (!json) {
      char speed[64];
      std::snprintf(speed, sizeof speed, "%.2f ± %.2f", avg_ts, sd_ts);
      table.row(summary.label, format_bytes(summary.size_bytes), params_text(summary.n_params),
                backend, threads_text, test.name, speed);
    }
    results.push_back({{"model_filename", summary.path},
                       {"model_type", summary.label},
                       {"architecture", summary.architecture},
                       {"file_type", summary.file_type},
                       {"model_size", summary.size_bytes},
                       {"model_n_params", summary.n_params},
                       {"backend", backend},
                       {"device", model.device().info().description},
                       {"n_threads", threads},
                       {"test", test.name},
                       {"n_prompt", test.n_prompt},
                       {"n_gen", test.n_gen},
                       {"n_depth", test.n_depth},
                       {"kv_policy", args.has("kv-policy") ? args.get("kv-policy") : ""},
                       {"repetitions", repetitions},
                       {"test_time", utc_now()},
                       {"avg_ns", mean(samples.ns)},
                       {"stddev_ns", stddev(samples.ns)},
                       {"avg_ts", avg_ts},
                       {"stddev_ts", sd_ts},
                       {"samples_ns", samples.ns},
                       {"samples_ts", samples.tokens_per_second}});
  }
  if (json) std::cout << results.dump(2) << "\n";
  return 0;
}

}  // namespace hearth::cli

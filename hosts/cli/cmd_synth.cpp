// `hearth synth --shape NAME --type TYPE -o FILE`: a random-weight GGUF of a real model's shape,
// so speed can be measured at real sizes without downloading weights. The weights are written
// as F16 (as llama.cpp's converters write them), then quantized by `hearth quantize`'s code.
#include <hearth/error.hpp>
#include <hearth/gguf.hpp>
#include <hearth/quantize.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "synth_random.hpp"
#include "synth_shapes.hpp"
#include "synth_vocab.hpp"

namespace hearth::cli {
namespace {

constexpr float kWeightStddev = 0.02f;  // the usual initializer scale of these models
constexpr uint32_t kFileTypeF16 = 1;    // llama.cpp's LLAMA_FTYPE_MOSTLY_F16

// The intermediate F16 file is removed however synth ends.
class TemporaryPath {
 public:
  explicit TemporaryPath(std::filesystem::path path) : path_(std::move(path)) {}
  TemporaryPath(const TemporaryPath&) = delete;
  TemporaryPath& operator=(const TemporaryPath&) = delete;
  ~TemporaryPath() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void add_hyperparams(GgufWriter& w, const SynthShape& s, uint64_t seed) {
  const std::string a = s.architecture + ".";
  w.set("general.architecture", gguf_string(s.architecture));
  w.set("general.type", gguf_string("model"));
  w.set("general.name", gguf_string(s.model_name + " (random weights)"));
  w.set(
      "general.description",
      gguf_string("random weights written by `hearth synth --shape " + s.name + " --seed " +
                  std::to_string(seed) + "`, for speed measurements; it produces no useful text"));
  w.set(a + "block_count", gguf_u32(static_cast<uint32_t>(s.n_layer)));
  w.set(a + "context_length", gguf_u32(static_cast<uint32_t>(s.n_ctx_train)));
  w.set(a + "embedding_length", gguf_u32(static_cast<uint32_t>(s.n_embd)));
  w.set(a + "feed_forward_length", gguf_u32(static_cast<uint32_t>(s.n_ff)));
  w.set(a + "attention.head_count", gguf_u32(static_cast<uint32_t>(s.n_head)));
  w.set(a + "attention.head_count_kv", gguf_u32(static_cast<uint32_t>(s.n_head_kv)));
  w.set(a + "rope.freq_base", gguf_f32(s.rope_base));
  w.set(a + "attention.layer_norm_rms_epsilon", gguf_f32(s.rms_eps));
  w.set("general.file_type", gguf_u32(kFileTypeF16));
  w.set(a + "vocab_size", gguf_u32(static_cast<uint32_t>(s.n_vocab)));
  if (s.architecture == "llama")
    w.set(a + "rope.dimension_count", gguf_u32(static_cast<uint32_t>(s.head_dim())));
}

// One tensor's values: norms are ones, everything else normal(0, 0.02) from the seed. 2-D
// tensors become F16 through the format plugin; 1-D tensors stay F32, as the converters keep them.
std::vector<std::byte> tensor_bytes(const SynthTensor& t, uint64_t seed, const FormatPlugin& f16,
                                    unsigned n_threads) {
  int64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  const bool as_f32 = t.ne.size() == 1;
  std::vector<std::byte> out(static_cast<size_t>(n) * (as_f32 ? sizeof(float) : sizeof(uint16_t)));
  if (t.is_norm) {
    const float one = 1.0f;
    for (int64_t i = 0; i < n; ++i) std::memcpy(out.data() + i * sizeof(float), &one, sizeof one);
    return out;
  }
  // Threads take whole seeded chunks, so the values do not depend on the thread count.
  const int64_t n_chunks = (n + kSynthChunkElems - 1) / kSynthChunkElems;
  const int64_t per_thread = (n_chunks + n_threads - 1) / n_threads * kSynthChunkElems;
  auto work = [&](int64_t begin, int64_t end) {
    constexpr int64_t kSlice = 16 * kSynthChunkElems;
    std::vector<float> scratch(static_cast<size_t>(std::min(kSlice, end - begin)));
    for (int64_t first = begin; first < end; first += kSlice) {
      const int64_t count = std::min(kSlice, end - first);
      std::span<float> values(scratch.data(), static_cast<size_t>(count));
      fill_normal(values, first, seed, t.name, 0.0f, kWeightStddev);
      if (as_f32)
        std::memcpy(out.data() + first * sizeof(float), values.data(), values.size_bytes());
      else
        f16.quantize(HEARTH_DTYPE_F16, values.data(), out.data() + first * sizeof(uint16_t), 1,
                     count, nullptr);
    }
  };
  std::vector<std::exception_ptr> errors(n_threads);
  {
    std::vector<std::jthread> workers;
    for (int64_t begin = per_thread, i = 1; begin < n; begin += per_thread, ++i)
      workers.emplace_back([&, begin, i] {
        try {
          work(begin, std::min(n, begin + per_thread));
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      });
    work(0, std::min(n, per_thread));
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

// One line rewritten in place on a terminal; in a log, only the start and the end of a phase.
void progress_line(const char* what, size_t done, size_t total, const std::string& tensor) {
  if (::isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r%s [%zu/%zu] %-40.40s", what, done, total, tensor.c_str());
    if (done == total) std::fprintf(stderr, "\n");
  } else if (done == 0 || done == total) {
    std::fprintf(stderr, "%s [%zu/%zu]\n", what, done, total);
  }
  std::fflush(stderr);
}

std::string known_types() {
  std::string names;
  for (const auto& r : quantize_recipes()) names += (names.empty() ? "" : ", ") + r.name;
  return names;
}

}  // namespace

int cmd_synth(const Argv& argv) {
  std::string types;
  for (const auto& r : quantize_recipes()) types += "\n        " + r.name + ": " + r.description;
  Args args(
      "synth",
      "Write a GGUF with random weights in a real model's shape (tensor names, shapes and "
      "hyperparameters as llama.cpp's converters write them), to measure speed at real "
      "sizes. Its text is noise. Needs memory for the F16 weights (2.2 GB for tinyllama-1.1b, "
      "13.5 GB for llama2-7b) and as much free disk beside the output.");
  args.option("shape", "", "NAME", "the model shape, one of: " + synth_shape_names())
      .option("type", "", "TYPE", "tensor types, as `hearth quantize` takes them:" + types, "F16")
      .option("output", "o", "FILE", "the file to write (atomically)")
      .option("seed", "s", "N", "random seed; the same seed gives the same bytes", "1")
      .option("vocab", "", "FILE",
              "GGUF whose tokenizer is copied (default: the shape's vocabulary in "
              "$HEARTH_VOCAB_DIR or $HEARTH_SHARED_DIR/models/vocab)");
  add_plugin_options(args);
  if (!args.parse(argv)) return 0;

  const std::string shape_name = args.get("shape");
  const SynthShape* shape = find_synth_shape(shape_name);
  if (!shape)
    throw UsageError("unknown shape '" + shape_name + "'; known shapes: " + synth_shape_names());
  const std::string type = args.get("type");
  const auto recipes = quantize_recipes();
  if (std::none_of(recipes.begin(), recipes.end(), [&](const auto& r) { return r.name == type; }))
    throw UsageError("unknown type '" + type + "'; known types: " + known_types());
  const long long seed = args.get_int("seed");
  if (seed < 0) throw UsageError("--seed must be >= 0, got " + std::to_string(seed));
  const std::filesystem::path output = args.get("output");
  const std::filesystem::path output_dir = output.has_parent_path() ? output.parent_path() : ".";
  if (!std::filesystem::is_directory(output_dir))
    throw Error(output.string() + ": the directory " + output_dir.string() +
                " does not exist; create it or write elsewhere");
  const std::filesystem::path vocab_file = find_vocab_file(args.find("vocab"), *shape);

  PluginRegistry registry(registry_options(args));
  const auto f16 = registry.format_for(HEARTH_DTYPE_F16);
  if (!f16) throw Error("no loaded format plugin writes F16; check `hearth plugins`");

  const auto start = std::chrono::steady_clock::now();
  GgufWriter writer;
  add_hyperparams(writer, *shape, static_cast<uint64_t>(seed));
  add_vocab(writer, vocab_file, shape->n_vocab);
  writer.set("general.quantization_version", gguf_u32(2));

  const unsigned n_threads = std::clamp(std::thread::hardware_concurrency(), 1u, 64u);
  const std::vector<SynthTensor> tensors = synth_tensors(*shape);
  uint64_t n_params = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SynthTensor& t = tensors[i];
    progress_line("generating", i, tensors.size(), t.name);
    const std::vector<std::byte> data =
        tensor_bytes(t, static_cast<uint64_t>(seed), *f16, n_threads);
    writer.add_tensor(t.name, t.ne.size() == 1 ? HEARTH_DTYPE_F32 : HEARTH_DTYPE_F16, t.ne, data);
    n_params += data.size() / (t.ne.size() == 1 ? sizeof(float) : sizeof(uint16_t));
  }
  progress_line("generating", tensors.size(), tensors.size(), "");

  if (type == "F16") {
    writer.write(output);
    GgufFile::open(output);  // our reader validates what we wrote
  } else {
    // quantize_model reads a file, so the F16 weights go to a temporary one beside the output.
    TemporaryPath f16_file(output_dir / ("." + output.filename().string() + ".synth-f16-" +
                                         std::to_string(::getpid()) + ".gguf"));
    writer.write(f16_file.path());
    writer = GgufWriter();  // frees the F16 weights before quantizing
    quantize_model(f16_file.path(), output, type, registry,
                   [](const std::string& tensor, size_t done, size_t total) {
                     progress_line("quantizing", done, total, tensor);
                   });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %s shape, %s, %.3f B parameters, %s, seed %lld, tokenizer from %s (%.1f s)\n",
              output.string().c_str(), shape->name.c_str(), type.c_str(),
              static_cast<double>(n_params) * 1e-9,
              format_bytes(std::filesystem::file_size(output)).c_str(), seed,
              vocab_file.filename().string().c_str(), seconds);
  return 0;
}

}  // namespace hearth::cli

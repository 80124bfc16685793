#include "model_options.hpp"

#include <iostream>
#include <random>

#include "common.hpp"

namespace hearth::cli {

void add_model_options(Args& args) {
  args.option("model", "m", "FILE", "the GGUF model file")
      .option("ctx-size", "c", "N", "context size in tokens; 0 = the model's, at most 4096", "0")
      .option("batch-size", "b", "N", "tokens per step while reading the prompt", "512")
      .option("threads", "t", "N", "CPU threads; 0 = one per physical core", "0")
      .option("backend", "", "NAME", "backend plugin to run on", "cpu")
      .option("device", "", "INDEX", "device index within the backend", "0");
  add_plugin_options(args);
}

void add_sampling_options(Args& args) {
  const SamplerParams d;
  args.option("temp", "", "T", "temperature; 0 = greedy", std::to_string(d.temperature))
      .option("top-k", "", "K", "keep the K most likely tokens; 0 = off", std::to_string(d.top_k))
      .option("top-p", "", "P", "nucleus sampling; 1 = off", std::to_string(d.top_p))
      .option("min-p", "", "P", "drop tokens below P times the most likely; 0 = off",
              std::to_string(d.min_p))
      .option("repeat-penalty", "", "X", "penalize repeated tokens; 1 = off",
              std::to_string(d.repeat_penalty))
      .option("repeat-last-n", "", "N", "tokens the penalties look back on; -1 = all",
              std::to_string(d.penalty_last_n))
      .option("presence-penalty", "", "X", "subtract X from tokens already present", "0")
      .option("frequency-penalty", "", "X", "subtract X per occurrence", "0")
      .option("seed", "s", "N", "random seed; -1 = random", "-1");
}

LoadedModel load_model(const Args& args) {
  LoadedModel out;
  out.registry = std::make_unique<PluginRegistry>(registry_options(args));
  ModelOptions options;
  options.backend = args.get("backend");
  options.device_index = static_cast<uint32_t>(args.get_int("device"));
  options.backend_options["threads"] = std::to_string(args.get_int("threads"));
  options.notice = [](const std::string& line) { std::cerr << "hearth: " << line << "\n"; };
  out.model = Model::load(args.get("model"), *out.registry, options);
  return out;
}

SessionOptions session_options(const Args& args, const Model& model) {
  SessionOptions options;
  const long long requested = args.get_int("ctx-size");
  if (requested < 0) throw UsageError("--ctx-size must be >= 0");
  options.n_ctx = requested > 0 ? requested : std::min<int64_t>(model.hparams().n_ctx_train, 4096);
  options.n_batch = args.get_int("batch-size");
  if (options.n_batch <= 0) throw UsageError("--batch-size must be positive");
  return options;
}

SamplerParams sampler_params(const Args& args) {
  SamplerParams p;
  p.temperature = static_cast<float>(args.get_double("temp"));
  p.top_k = static_cast<int32_t>(args.get_int("top-k"));
  p.top_p = static_cast<float>(args.get_double("top-p"));
  p.min_p = static_cast<float>(args.get_double("min-p"));
  p.repeat_penalty = static_cast<float>(args.get_double("repeat-penalty"));
  p.penalty_last_n = static_cast<int32_t>(args.get_int("repeat-last-n"));
  p.presence_penalty = static_cast<float>(args.get_double("presence-penalty"));
  p.frequency_penalty = static_cast<float>(args.get_double("frequency-penalty"));
  const long long seed = args.get_int("seed");
  p.seed = seed < 0 ? std::random_device{}() : static_cast<uint64_t>(seed);
  validate(p);
  return p;
}

}  // namespace hearth::cli

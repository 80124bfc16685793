#include "model_options.hpp"

#include <hearth/gguf.hpp>

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
      .option("device", "", "INDEX", "device index within the backend", "0")
      .option("kv-type", "", "TYPE",
              "KV cache element type: f16 (llama.cpp's default; f32 where the backend has no "
              "F16 cache) or f32",
              "f16");
  add_kv_policy_options(args);
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

namespace {

// With --config, the placement plan picks the devices: one range of layers per [[device]] entry
// that got layers (partial offload when there are several).
void apply_config(const Args& args, const Config& config, const PluginRegistry& registry,
                  ModelOptions& options, std::optional<KvConfig>& kv) {
  const GgufFile file = GgufFile::open(args.get("model"));
  const ModelHyperparams hp = read_hyperparams(file);
  const PlacementPlan plan =
      plan_placement(config, static_cast<int>(hp.n_layer), device_inventory(registry));
  for (const auto& note : plan.notes) options.notice(note);
  options.layer_ranges.clear();
  for (const LayerAssignment& a : plan.assignments) {
    const DeviceConfig& entry = config.devices[a.device_index];
    if (entry.weights != "native" && entry.weights != "nf4")
      throw Error(entry.location_of("weights").to_string() + ": weights = \"" + entry.weights +
                  "\" is not a known choice; use \"native\" (as stored) or \"nf4\" (converted "
                  "at load)");
    for (const auto& [key, where] : entry.key_locations)
      if (key == "kv" || key.starts_with("kv.")) kv = entry.kv;
    const PlacedDevice& device = plan.devices[a.device_index];
    LayerRange range;
    range.backend = device.backend;
    range.device_index = device.index;
    range.backend_options = entry.backend_options;
    if (config.runtime.threads != 0 && !range.backend_options.count("threads"))
      range.backend_options["threads"] = std::to_string(config.runtime.threads);
    range.first_layer = a.first_layer;
    range.last_layer = a.last_layer;
    range.weights = entry.weights;
    options.layer_ranges.push_back(std::move(range));
  }
  if (plan.assignments.size() > 1) options.notice(plan.describe());
  options.backend = options.layer_ranges.front().backend;
  options.device_index = options.layer_ranges.front().device_index;
  options.backend_options = options.layer_ranges.front().backend_options;
}

}  // namespace

LoadedModel load_model(const Args& args) {
  LoadedModel out;
  out.registry = std::make_unique<PluginRegistry>(registry_options(args));
  ModelOptions options;
  options.notice = [](const std::string& line) { std::cerr << "hearth: " << line << "\n"; };
  options.backend = args.get("backend");
  options.device_index = static_cast<uint32_t>(args.get_int("device"));
  if (args.has("config")) {
    apply_config(args, cli_config(args), *out.registry, options, out.kv);
    // Options given on the command line win over the config (and put the model on one device).
    if (args.has("backend") || args.has("device")) {
      if (args.has("backend")) options.backend = args.get("backend");
      if (args.has("device")) options.device_index = static_cast<uint32_t>(args.get_int("device"));
      options.layer_ranges.clear();
    }
  }
  if (args.has("threads") || !options.backend_options.count("threads"))
    options.backend_options["threads"] = std::to_string(args.get_int("threads"));
  for (LayerRange& range : options.layer_ranges)
    if (args.has("threads") || !range.backend_options.count("threads"))
      range.backend_options["threads"] = std::to_string(args.get_int("threads"));
  out.model = Model::load(args.get("model"), *out.registry, options);
  return out;
}

namespace {

std::map<std::string, std::string> parse_kv_options(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--kv-option: '" + item +
                       "' is not KEY=VALUE (e.g. --kv-option recent=0.5,sinks=4)");
    out[item.substr(0, eq)] = item.substr(eq + 1);
    start = end + 1;
  }
  return out;
}

}  // namespace

void add_kv_policy_options(Args& args) {
  args.option("kv-policy", "", "NAME",
              "KV-cache policy plugin: full, window, h2o, bias-window, qdrop, q8, q4 (`hearth "
              "plugins`); default: the plain cache")
      .option("kv-budget", "", "B",
              "KV budget for the policy: a fraction of the full cache (0.2), \"20%\", "
              "\"64MiB\" or \"4096 tokens\"",
              "1")
      .option("kv-option", "", "K=V[,K=V]", "options for the KV policy plugin, e.g. recent=0.5",
              "");
}

void apply_kv_policy(const Args& args, const LoadedModel& loaded, SessionOptions& options) {
  std::optional<KvConfig> kv = loaded.kv;
  if (args.has("kv-policy") || args.has("kv-budget") || args.has("kv-option")) {
    if (!kv) kv = KvConfig{};
    if (args.has("kv-policy")) kv->policy = args.get("kv-policy");
    if (args.has("kv-budget")) kv->budget = parse_kv_budget(args.get("kv-budget"));
    for (const auto& [key, value] : parse_kv_options(args.get("kv-option")))
      kv->options[key] = value;
  }
  // The full policy over the whole budget is the plain cache (bit for bit, tests/kv-cache), which
  // also runs on backends that keep the cache in device memory.
  const bool plain = kv && kv->policy == "full" && kv->options.empty() &&
                     kv->budget.unit == KvBudget::Unit::fraction && kv->budget.fraction == 1.0;
  if (kv && !plain) {
    options.kv_policy = loaded.registry->kv_policy(kv->policy);
    options.kv_budget = kv->budget;
    options.kv_options = kv->options;
  }
}

SessionOptions session_options(const Args& args, const LoadedModel& loaded) {
  const Model& model = *loaded.model;
  SessionOptions options;
  long long requested = args.get_int("ctx-size");
  long long batch = args.get_int("batch-size");
  if (args.has("config")) {
    const RuntimeConfig runtime = cli_config(args).runtime;
    if (!args.has("ctx-size") && runtime.context > 0) requested = runtime.context;
    if (!args.has("batch-size")) batch = runtime.batch;
  }
  if (requested < 0) throw UsageError("--ctx-size must be >= 0");
  options.n_ctx = requested > 0 ? requested : std::min<int64_t>(model.hparams().n_ctx_train, 4096);
  options.n_batch = batch;
  if (options.n_batch <= 0) throw UsageError("--batch-size must be positive");
  const std::string kv_type = args.get("kv-type");
  if (kv_type == "f16")
    options.kv_type = KvType::f16;
  else if (kv_type == "f32")
    options.kv_type = KvType::f32;
  else
    throw UsageError("--kv-type must be f16 or f32, got '" + kv_type + "'");

  apply_kv_policy(args, loaded, options);
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
  long long seed = args.get_int("seed");
  if (!args.has("seed") && args.has("config")) seed = cli_config(args).runtime.seed;
  p.seed = seed < 0 ? std::random_device{}() : static_cast<uint64_t>(seed);
  validate(p);
  return p;
}

}  // namespace hearth::cli

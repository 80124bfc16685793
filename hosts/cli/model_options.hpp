// Options every model-running command shares (run, chat, perplexity, bench): which model, which
// backend, the context, and sampling.
#pragma once

#include <hearth/model.hpp>
#include <hearth/plugin_registry.hpp>
#include <hearth/sampler.hpp>
#include <hearth/session.hpp>

#include <memory>
#include <optional>

#include "args.hpp"

namespace hearth::cli {

void add_model_options(Args& args);
void add_sampling_options(Args& args);

struct LoadedModel {
  std::unique_ptr<PluginRegistry> registry;
  std::shared_ptr<Model> model;
  std::optional<KvConfig> kv;  // the config's [[device]] kv table, when it wrote one
};

// Loads the model named by -m with the plugins and backend the options say; notices and
// progress go to stderr.
LoadedModel load_model(const Args& args);
// The session the options ask for; a KV policy (--kv-policy or the config's kv table) is opened
// from the loaded plugins.
SessionOptions session_options(const Args& args, const LoadedModel& loaded);
SamplerParams sampler_params(const Args& args);

// --kv-policy, --kv-budget, --kv-option; and what they (over the config's kv table) ask of a
// session: the policy plugin, its budget and options, or nothing for the plain cache.
void add_kv_policy_options(Args& args);
void apply_kv_policy(const Args& args, const LoadedModel& loaded, SessionOptions& options);

}  // namespace hearth::cli

#include <hearth/kv_policy.hpp>

#include <vector>

#include "registry/host_context.hpp"

namespace hearth {

KvPolicySession::KvPolicySession(std::shared_ptr<detail::LoadedPlugin> plugin, void* state)
    : plugin_(std::move(plugin)), state_(state) {}

KvPolicySession::~KvPolicySession() { api().close(state_); }

const hearth_kv_api& KvPolicySession::api() const {
  return *static_cast<const hearth_kv_api*>(plugin_->descriptor->api);
}

uint32_t KvPolicySession::stats_per_slot() const { return api().stats_per_slot(state_); }

void KvPolicySession::observe(hearth_kv_view& view, const float* attention_mass,
                              uint32_t n_query_rows) {
  check_status(api().observe(state_, &view, attention_mass, n_query_rows),
               "KV policy '" + plugin_->info.name + "' observe");
}

void KvPolicySession::decide(hearth_kv_view& view, const hearth_kv_budget& budget,
                             uint8_t* evict) {
  check_status(api().decide(state_, &view, &budget, evict),
               "KV policy '" + plugin_->info.name + "' decide");
}

KvPolicyPlugin::KvPolicyPlugin(std::shared_ptr<detail::LoadedPlugin> plugin)
    : plugin_(std::move(plugin)) {}

const PluginInfo& KvPolicyPlugin::info() const { return plugin_->info; }

const hearth_kv_api& KvPolicyPlugin::api() const {
  return *static_cast<const hearth_kv_api*>(plugin_->descriptor->api);
}

std::unique_ptr<KvPolicySession> KvPolicyPlugin::open(
    const std::map<std::string, std::string>& options) {
  std::vector<hearth_option> c_options;
  for (const auto& [key, value] : options) c_options.push_back({key.c_str(), value.c_str()});
  void* state = nullptr;
  check_status(api().open(plugin_->instance, c_options.data(), c_options.size(), &state),
               "KV policy '" + name() + "' open");
  return std::make_unique<KvPolicySession>(plugin_, state);
}

}  // namespace hearth

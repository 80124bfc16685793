// C++ view of a KV-cache policy plugin and its per-session state.
#pragma once

#include <hearth/plugin_info.hpp>
#include <hearth/sdk/abi.h>

#include <map>
#include <memory>
#include <string>

namespace hearth {

namespace detail {
struct LoadedPlugin;
}

class KvPolicySession {
 public:
  KvPolicySession(std::shared_ptr<detail::LoadedPlugin> plugin, void* state);
  ~KvPolicySession();
  KvPolicySession(const KvPolicySession&) = delete;
  KvPolicySession& operator=(const KvPolicySession&) = delete;

  uint32_t stats_per_slot() const;
  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t n_query_rows);
  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict);

 private:
  const hearth_kv_api& api() const;
  std::shared_ptr<detail::LoadedPlugin> plugin_;
  void* state_;
};

class KvPolicyPlugin {
 public:
  explicit KvPolicyPlugin(std::shared_ptr<detail::LoadedPlugin> plugin);
  const PluginInfo& info() const;
  const std::string& name() const { return info().name; }
  std::unique_ptr<KvPolicySession> open(const std::map<std::string, std::string>& options = {});

 private:
  const hearth_kv_api& api() const;
  std::shared_ptr<detail::LoadedPlugin> plugin_;
};

}  // namespace hearth

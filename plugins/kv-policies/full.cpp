// `full`: the baseline. Keeps every token at 16 bits whatever the budget, so a run with it is
// the uncompressed cache every other policy is measured against.
#include "common/option_reader.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

namespace {

using namespace hearth::kv_policies;

constexpr const char* kName = "full";

class FullState final : public hearth::sdk::KvState {
 public:
  uint32_t stats_per_slot() const override { return 0; }
  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t) override {
    check_observe(kName, view, 0, attention_mass);
  }
  void decide(hearth_kv_view& view, const hearth_kv_budget&, uint8_t* evict) override {
    check_decide(kName, view, 0, evict);
  }
};

class Full final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(kName, options);
    reader.finish();
    return std::make_unique<FullState>();
  }
};

}  // namespace

HEARTH_KV_PLUGIN(Full, "full", "1.0.0", "baseline: keeps every token at 16 bits, never evicts")

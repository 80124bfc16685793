// `bias-window`: seed 003's pruning (spec §5.1/5.2). Importance is the bias-corrected attention
// I_j = S_j / c_j over the last `window` query rows (exact ring, or `forget = "ema"`); the
// lowest-I tokens outside the `protect_recent` newest are evicted until the cache fits.
#include "common/importance.hpp"
#include "common/option_reader.hpp"
#include "common/slot_ranking.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

#include <algorithm>

namespace {

using namespace hearth::kv_policies;

constexpr const char* kName = "bias-window";

class BiasWindowState final : public hearth::sdk::KvState {
 public:
  BiasWindowState(std::unique_ptr<BiasCorrected> importance, uint64_t protect_recent)
      : importance_(std::move(importance)), protect_recent_(protect_recent) {}
  uint32_t stats_per_slot() const override { return importance_->stats_per_slot(); }
  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t rows) override {
    check_observe(kName, view, stats_per_slot(), attention_mass);
    importance_->observe(view, attention_mass, rows);
  }
  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) override {
    check_decide(kName, view, stats_per_slot(), evict);
    const uint64_t capacity = full_precision_capacity(kName, budget);
    if (view.n_slots <= capacity) return;
    const auto protect = newest_mask(view, std::min(protect_recent_, capacity));
    evict_least_important(view, importance_->scores(view), protect, capacity, evict);
  }

 private:
  std::unique_ptr<BiasCorrected> importance_;
  uint64_t protect_recent_;
};

class BiasWindow final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(kName, options);
    auto importance = BiasCorrected::from_options(kName, reader);
    const auto protect = static_cast<uint64_t>(reader.integer("protect_recent", 0, 0, 1 << 30));
    reader.finish();
    return std::make_unique<BiasWindowState>(std::move(importance), protect);
  }
};

}  // namespace

HEARTH_KV_PLUGIN(BiasWindow, "bias-window", "1.0.0",
                 "seed 003: evicts the lowest bias-corrected windowed attention importance")

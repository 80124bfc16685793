// `h2o`: Heavy-Hitter Oracle (spec §2) with true eviction per KV head. Score = attention mass
// accumulated since the token entered the cache (GQA: summed over the group's query heads). The
// newest floor(recent * capacity) tokens form the recent window; outside it the lowest-scored
// tokens are evicted until the cache fits. A token leaving the window keeps its score.
#include "common/importance.hpp"
#include "common/option_reader.hpp"
#include "common/slot_ranking.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

#include <cmath>

namespace {

using namespace hearth::kv_policies;

constexpr const char* kName = "h2o";

class H2oState final : public hearth::sdk::KvState {
 public:
  explicit H2oState(double recent) : recent_(recent), score_(kName) {}
  uint32_t stats_per_slot() const override { return score_.stats_per_slot(); }
  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t rows) override {
    check_observe(kName, view, stats_per_slot(), attention_mass);
    score_.observe(view, attention_mass, rows);
  }
  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) override {
    check_decide(kName, view, stats_per_slot(), evict);
    const uint64_t capacity = full_precision_capacity(kName, budget);
    if (view.n_slots <= capacity) return;
    const auto recent = static_cast<uint64_t>(std::floor(recent_ * static_cast<double>(capacity)));
    evict_least_important(view, score_.scores(view), newest_mask(view, recent), capacity, evict);
  }

 private:
  double recent_;
  AccumulatedMass score_;
};

class H2o final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(kName, options);
    const double recent = reader.number("recent", 0.5, 0.0, 1.0);
    reader.finish();
    return std::make_unique<H2oState>(recent);
  }
};

}  // namespace

HEARTH_KV_PLUGIN(H2o, "h2o", "1.0.0",
                 "H2O: heavy hitters by accumulated attention plus a recent window")

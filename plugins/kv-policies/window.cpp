// `window`: StreamingLLM (spec §4). Keeps the first `sinks` tokens (attention sinks) and the
// newest tokens that fit budget_bytes / slot_bytes[16]. Keys keep their absolute RoPE positions
// (no re-rotation), so this is the sink + window cache, not position-shifted StreamingLLM.
#include "common/option_reader.hpp"
#include "common/slot_ranking.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

#include <algorithm>

namespace {

using namespace hearth::kv_policies;

constexpr const char* kName = "window";

class WindowState final : public hearth::sdk::KvState {
 public:
  explicit WindowState(uint64_t sinks) : sinks_(sinks) {}
  uint32_t stats_per_slot() const override { return 0; }
  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t) override {
    check_observe(kName, view, 0, attention_mass);
  }
  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) override {
    check_decide(kName, view, 0, evict);
    const uint64_t capacity = full_precision_capacity(kName, budget);
    if (view.n_slots <= capacity) return;
    // The newest token always stays, so sinks take at most capacity - 1 places.
    const uint64_t sinks = std::min(sinks_, capacity - 1);
    const uint64_t recent = capacity - sinks;
    const auto order = newest_first(view);  // oldest are at the back
    for (size_t rank = recent; rank + sinks < order.size(); ++rank) evict[order[rank]] = 1;
  }

 private:
  uint64_t sinks_;
};

class Window final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(kName, options);
    const auto sinks = static_cast<uint64_t>(reader.integer("sinks", 4, 0, 1 << 30));
    reader.finish();
    return std::make_unique<WindowState>(sinks);
  }
};

}  // namespace

HEARTH_KV_PLUGIN(Window, "window", "1.0.0",
                 "StreamingLLM: the first `sinks` tokens plus the newest that fit the budget")

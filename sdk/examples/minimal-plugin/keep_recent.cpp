// The smallest useful KV-cache policy: keep the newest tokens that fit the budget, at full
// precision, and evict the rest (a sliding window). It shows every part of a plugin: the
// class, options with checked values, the per-session state and the one export macro.
#include <hearth/sdk/plugin.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

namespace {

class KeepRecentState final : public hearth::sdk::KvState {
 public:
  explicit KeepRecentState(long long sink_tokens) : sink_tokens_(sink_tokens) {}

  uint32_t stats_per_slot() const override { return 0; }

  void observe(hearth_kv_view&, const float*, uint32_t) override {}

  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) override {
    const uint64_t slot_bytes = budget.slot_bytes[16];
    if (slot_bytes == 0)
      throw hearth::sdk::PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                                     "budget.slot_bytes[16] is 0: the cache manager must say "
                                     "how many bytes a full-precision slot takes");
    const uint64_t capacity = budget.budget_bytes / slot_bytes;

    // Slots are not ordered by position after compaction, so rank them.
    std::vector<uint32_t> order(view.n_slots);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return view.positions[a] > view.positions[b];
    });
    uint64_t kept = 0;
    for (uint32_t i = 0; i < view.n_slots; ++i) evict[i] = 1;
    // The first tokens of a sequence act as attention sinks; keeping them stabilizes long runs.
    for (uint32_t i = 0; i < view.n_slots && kept < capacity; ++i) {
      if (view.positions[i] < sink_tokens_) {
        evict[i] = 0;
        ++kept;
      }
    }
    for (uint32_t slot : order) {
      if (kept >= capacity) break;
      if (evict[slot] == 0) continue;
      evict[slot] = 0;
      ++kept;
    }
    for (uint32_t i = 0; i < view.n_slots; ++i)
      if (!evict[i]) view.bits[i] = 16;
  }

 private:
  long long sink_tokens_;
};

class KeepRecent final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;

  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    const long long sinks = options.get_int("sink_tokens", 4);
    if (sinks < 0)
      throw hearth::sdk::PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                                     "option 'sink_tokens' must be >= 0, got " +
                                         std::to_string(sinks));
    return std::make_unique<KeepRecentState>(sinks);
  }
};

}  // namespace

HEARTH_KV_PLUGIN(KeepRecent, "example-recent", "1.0.0",
                 "example: keeps the first sink_tokens and the newest tokens that fit the budget")

// `q8` / `q4`: uniform KV quantization. Every slot goes to `bits` except the `recent` newest,
// which keep their precision (16 when new); nothing is evicted and the budget is not consulted
// (the footprint is fixed by the bit width). One class, instantiated by q8.cpp and q4.cpp.
#pragma once

#include "common/option_reader.hpp"
#include "common/slot_ranking.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

#include <algorithm>

namespace hearth::kv_policies {

template <uint32_t Bits>
class UniformQuantization final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  static constexpr const char* name() { return Bits == 8 ? "q8" : "q4"; }

  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(name(), options);
    const auto recent = static_cast<uint64_t>(reader.integer("recent", 0, 0, 1 << 30));
    reader.finish();
    return std::make_unique<State>(recent);
  }

 private:
  class State final : public hearth::sdk::KvState {
   public:
    explicit State(uint64_t recent) : recent_(recent) {}
    uint32_t stats_per_slot() const override { return 0; }
    void observe(hearth_kv_view& view, const float* attention_mass, uint32_t) override {
      check_observe(name(), view, 0, attention_mass);
    }
    void decide(hearth_kv_view& view, const hearth_kv_budget&, uint8_t* evict) override {
      check_decide(name(), view, 0, evict);
      const auto recent = newest_mask(view, recent_);
      for (uint32_t i = 0; i < view.n_slots; ++i)
        if (!recent[i]) view.bits[i] = static_cast<uint8_t>(std::min<uint32_t>(view.bits[i], Bits));
    }

   private:
    uint64_t recent_;
  };
};

}  // namespace hearth::kv_policies

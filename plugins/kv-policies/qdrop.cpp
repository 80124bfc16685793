// `qdrop`: seed 003's quantization dropout (spec §5.3). No token is dropped: tokens are ranked by
// importance and each rank band gets the bit width of its tier; a slot only ever moves down
// (new bits = min(current, assigned)). The `recent` newest tokens keep their precision.
//
// Which scheme: `scheme` (any mix) or `ratio` (a Table 1 row) when given; otherwise, at each
// decide(), the least-compressing Table 1 row whose bytes fit budget_bytes for the tokens held
// now, with the real slot_bytes (metadata included) and demotion taken into account. When no row
// fits, the most compressed one (ratio 0.1) is used and the cache stays above its budget.
#include "common/importance.hpp"
#include "common/option_reader.hpp"
#include "common/slot_ranking.hpp"
#include "common/tier_scheme.hpp"
#include "common/view_checks.hpp"

#include <hearth/sdk/plugin.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace {

using namespace hearth::kv_policies;

constexpr const char* kName = "qdrop";

uint64_t bytes_at(const hearth_kv_budget& budget, uint32_t bits, uint32_t slot) {
  const bool tier = bits == 16 || bits == 8 || bits == 4 || bits == 2 || bits == 1;
  if (!tier)
    fail(kName, "slot " + std::to_string(slot) + " is at " + std::to_string(bits) +
                    " bits; tiers are 16, 8, 4, 2 and 1");
  if (budget.slot_bytes[bits] == 0)
    fail(kName, "budget.slot_bytes[" + std::to_string(bits) +
                    "] is 0: the cache manager must give the bytes of a slot at every tier");
  return budget.slot_bytes[bits];
}

class QdropState final : public hearth::sdk::KvState {
 public:
  QdropState(std::unique_ptr<ImportanceEstimator> importance, std::optional<TierScheme> fixed,
             uint64_t recent)
      : importance_(std::move(importance)), fixed_(std::move(fixed)), recent_(recent) {}

  uint32_t stats_per_slot() const override { return importance_->stats_per_slot(); }

  void observe(hearth_kv_view& view, const float* attention_mass, uint32_t rows) override {
    check_observe(kName, view, stats_per_slot(), attention_mass);
    importance_->observe(view, attention_mass, rows);
  }

  void decide(hearth_kv_view& view, const hearth_kv_budget& budget, uint8_t* evict) override {
    check_decide(kName, view, stats_per_slot(), evict);
    const auto recent = newest_mask(view, recent_);
    const auto ranked = most_important_first(view, importance_->scores(view), recent);
    const TierScheme& scheme = fixed_ ? *fixed_ : fitting_preset(view, budget, recent, ranked);
    const auto assigned = assign(scheme, ranked, view.n_slots);
    for (uint32_t i = 0; i < view.n_slots; ++i)
      if (!recent[i])
        view.bits[i] = static_cast<uint8_t>(std::min<uint32_t>(view.bits[i], assigned[i]));
  }

 private:
  // Bits for each slot by its rank (slots not ranked keep 16, i.e. no change).
  static std::vector<uint32_t> assign(const TierScheme& scheme, const std::vector<uint32_t>& ranked,
                                      uint32_t n_slots) {
    std::vector<uint32_t> bits(n_slots, 16);
    const auto counts = tier_counts(scheme, ranked.size());
    size_t rank = 0;
    for (size_t k = 0; k < counts.size(); ++k)
      for (uint64_t c = 0; c < counts[k]; ++c) bits[ranked[rank++]] = scheme.tiers[k].bits;
    return bits;
  }

  static const TierScheme& fitting_preset(const hearth_kv_view& view,
                                          const hearth_kv_budget& budget,
                                          const std::vector<uint8_t>& recent,
                                          const std::vector<uint32_t>& ranked) {
    // Least compressing first. table1_presets() is ordered by average bits as well as by
    // nominal ratio (1.6, 3.2, 6.4, 7.2, 12.8, 16), so the literal 0.6 row sits above 0.4.
    const auto& presets = table1_presets();
    for (auto preset = presets.rbegin(); preset != presets.rend(); ++preset) {
      const auto bits = assign(preset->scheme, ranked, view.n_slots);
      uint64_t total = 0;
      for (uint32_t i = 0; i < view.n_slots; ++i) {
        const uint32_t b = recent[i] ? view.bits[i] : std::min<uint32_t>(view.bits[i], bits[i]);
        total += bytes_at(budget, b, i);
      }
      if (total <= budget.budget_bytes) return preset->scheme;
    }
    return presets.front().scheme;
  }

  std::unique_ptr<ImportanceEstimator> importance_;
  std::optional<TierScheme> fixed_;
  uint64_t recent_;
};

class Qdrop final : public hearth::sdk::KvPolicy {
 public:
  using KvPolicy::KvPolicy;
  std::unique_ptr<hearth::sdk::KvState> open(const hearth::sdk::Options& options) override {
    OptionReader reader(kName, options);
    const auto score = reader.word("score", "bias", {"bias", "h2o"});
    std::unique_ptr<ImportanceEstimator> importance;
    if (score == "bias") {
      importance = BiasCorrected::from_options(kName, reader);
    } else {
      for (const char* key : {"window", "forget"})
        if (reader.has(key))
          fail(kName, std::string("option '") + key +
                          "' applies only to score = \"bias\" (the bias-corrected estimator); "
                          "score = \"h2o\" accumulates all rows without a window");
      importance = std::make_unique<AccumulatedMass>(kName);
    }
    const auto recent = static_cast<uint64_t>(reader.integer("recent", 0, 0, 1 << 30));
    std::optional<TierScheme> fixed;
    const auto scheme_text = reader.text("scheme");
    const auto ratio_text = reader.text("ratio");
    if (scheme_text && ratio_text)
      fail(kName, "options 'scheme' = '" + *scheme_text + "' and 'ratio' = '" + *ratio_text +
                      "' both choose the precision mix; give one of them");
    if (scheme_text) fixed = parse_scheme(kName, *scheme_text);
    if (ratio_text) {
      const std::string accepted =
          "a Table 1 row: one of " + preset_ratios_text() + " (or give any mix with 'scheme')";
      double ratio = 0.0;
      auto [end, ec] =
          std::from_chars(ratio_text->data(), ratio_text->data() + ratio_text->size(), ratio);
      if (ratio_text->empty() || ec != std::errc() ||
          end != ratio_text->data() + ratio_text->size())
        reader.refuse("ratio", *ratio_text, accepted);
      for (const auto& preset : table1_presets())
        if (std::fabs(preset.ratio - ratio) < 1e-12) fixed = preset.scheme;
      if (!fixed) reader.refuse("ratio", *ratio_text, accepted);
    }
    reader.finish();
    return std::make_unique<QdropState>(std::move(importance), std::move(fixed), recent);
  }
};

}  // namespace

HEARTH_KV_PLUGIN(Qdrop, "qdrop", "1.0.0",
                 "seed 003 quantization dropout: bits by importance rank, no token dropped")

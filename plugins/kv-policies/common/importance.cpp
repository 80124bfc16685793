#include "importance.hpp"

#include "view_checks.hpp"

#include <algorithm>
#include <cmath>

namespace hearth::kv_policies {

void check_mass(std::string_view policy, const hearth_kv_view& view, const float* attention_mass) {
  for (uint32_t i = 0; i < view.n_slots; ++i)
    if (!(attention_mass[i] >= 0.0f) || !std::isfinite(attention_mass[i]))
      fail(policy, "attention_mass[" + std::to_string(i) + "] of layer " +
                       std::to_string(view.layer) + ", KV head " + std::to_string(view.kv_head) +
                       " is " + std::to_string(attention_mass[i]) +
                       "; a probability mass must be finite and >= 0");
}

// ------------------------------------------------------------------ AccumulatedMass

void AccumulatedMass::observe(const hearth_kv_view& view, const float* attention_mass,
                              uint32_t n_query_rows) const {
  if (n_query_rows == 0) return;
  check_mass(policy_, view, attention_mass);
  for (uint32_t i = 0; i < view.n_slots; ++i) view.stats[i] += attention_mass[i];
}

std::vector<double> AccumulatedMass::scores(const hearth_kv_view& view) const {
  return std::vector<double>(view.stats, view.stats + view.n_slots);
}

// ------------------------------------------------------------------ BiasCorrected
//
// Ring layout per slot: stats[0] = k, the number of rows accumulated, kept in [0, 2W) (k >= W
// means "full"; wrapping W..2W-1 keeps k exact as a float for any sequence length), then
// stats[1..W] = the contributions of the slot's last W rows, row number k stored at k mod W.
// Overwriting an entry drops the row that leaves the window exactly (no running sum to drift).
// EMA layout: stats[0] = S, stats[1] = c, both decayed by lambda = 1 - 1/W per row.

BiasCorrected::BiasCorrected(std::string policy, uint32_t window, Forget forget)
    : policy_(std::move(policy)), window_(window), forget_(forget) {}

std::unique_ptr<BiasCorrected> BiasCorrected::from_options(const std::string& policy,
                                                           OptionReader& options) {
  const auto window = static_cast<uint32_t>(options.integer("window", 32, 1, 4096));
  const auto forget = options.word("forget", "ring", {"ring", "ema"});
  return std::make_unique<BiasCorrected>(policy, window,
                                         forget == "ema" ? Forget::ema : Forget::ring);
}

uint32_t BiasCorrected::stats_per_slot() const { return forget_ == Forget::ring ? window_ + 1 : 2; }

void BiasCorrected::observe(const hearth_kv_view& view, const float* attention_mass,
                            uint32_t n_query_rows) const {
  if (n_query_rows == 0) return;
  if (n_query_rows != 1)
    fail(policy_, "observe() got " + std::to_string(n_query_rows) +
                      " query rows at once; bias correction weights each row by the slots it "
                      "saw, so the cache manager must call observe() once per query row");
  check_mass(policy_, view, attention_mass);
  const double heads = query_heads(policy_, view);
  uint32_t visible = 0;
  for (uint32_t i = 0; i < view.n_slots; ++i)
    if (view.positions[i] <= view.newest_position) ++visible;
  // m / n_query_heads: uniform attention puts 1/m on each slot in each of the group's heads.
  const double weight = visible / heads;
  const uint32_t per_slot = stats_per_slot();
  const double lambda = 1.0 - 1.0 / window_;
  for (uint32_t i = 0; i < view.n_slots; ++i) {
    if (view.positions[i] > view.newest_position) continue;  // this row could not see it
    float* s = view.stats + static_cast<size_t>(i) * per_slot;
    const double contribution = weight * attention_mass[i];
    if (forget_ == Forget::ring) {
      if (!(s[0] >= 0.0f && s[0] < 2.0f * window_))
        fail(policy_, "slot " + std::to_string(i) + " has a row counter of " +
                          std::to_string(s[0]) + " (expected 0 to " +
                          std::to_string(2 * window_ - 1) +
                          "); the cache manager must zero a new slot's stats and move them with "
                          "the slot");
      const auto rows = static_cast<uint32_t>(s[0]);
      s[1 + rows % window_] = static_cast<float>(contribution);
      const uint32_t next = rows + 1 == 2 * window_ ? window_ : rows + 1;
      s[0] = static_cast<float>(next);
    } else {
      s[0] = static_cast<float>(lambda * s[0] + contribution);
      s[1] = static_cast<float>(lambda * s[1] + 1.0);
    }
  }
}

std::vector<double> BiasCorrected::scores(const hearth_kv_view& view) const {
  const uint32_t per_slot = stats_per_slot();
  std::vector<double> out(view.n_slots);
  for (uint32_t i = 0; i < view.n_slots; ++i) {
    const float* s = view.stats + static_cast<size_t>(i) * per_slot;
    double sum = 0.0;
    double rows = 0.0;
    if (forget_ == Forget::ring) {
      rows = std::min<double>(s[0], window_);
      for (uint32_t r = 0; r < window_; ++r) sum += s[1 + r];
    } else {
      sum = s[0];
      rows = s[1];
    }
    // A slot no row has seen yet has no evidence either way: it gets the expected importance
    // under uniform attention, 1, rather than 0 (instant eviction) or infinity (immunity).
    out[i] = rows > 0.0 ? sum / rows : 1.0;
  }
  return out;
}

}  // namespace hearth::kv_policies

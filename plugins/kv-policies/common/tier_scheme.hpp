// Precision schemes for quantization dropout (spec §5.3): which share of the ranked tokens gets
// which bit width. Schemes are data, so the paper's Table 1 is reproduced row by row, including
// its inconsistent 0.6 row.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::kv_policies {

struct Tier {
  double share;   // of the ranked tokens, in (0, 1]
  uint32_t bits;  // 16, 8, 4, 2 or 1
};

struct TierScheme {
  std::string name;         // "ratio 0.6 (Table 1)" or the scheme text, for messages
  std::vector<Tier> tiers;  // highest bits first; shares sum to 1
  double average_bits() const;
};

// "0.2:4,0.8:1": share:bits pairs, shares > 0 summing to 1 (within 1e-9), distinct bit widths
// from {16, 8, 4, 2, 1}. Throws naming the option, the value and what is accepted.
TierScheme parse_scheme(std::string_view policy, std::string_view text);

// Table 1 of seed 003 by its nominal compress ratio, plus 1.0 = everything at 16 bits.
struct Preset {
  double ratio;
  TierScheme scheme;
};
// Most compressed first, which orders them by average bits too.
const std::vector<Preset>& table1_presets();
std::string preset_ratios_text();  // "0.1, 0.2, 0.4, 0.6, 0.8, 1"

// How many of n ranked tokens each tier takes: tier k ends at round(n * (share_1 + ... + share_k)),
// so counts are exact whenever n * share is whole and never sum to anything but n.
std::vector<uint64_t> tier_counts(const TierScheme& scheme, uint64_t n);

}  // namespace hearth::kv_policies

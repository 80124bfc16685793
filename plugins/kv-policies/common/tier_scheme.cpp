#include "tier_scheme.hpp"

#include "option_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace hearth::kv_policies {

namespace {

constexpr std::string_view kSchemeGrammar =
    "comma-separated share:bits pairs such as \"0.2:4,0.8:1\": shares > 0 that sum to 1, "
    "distinct bits from 16, 8, 4, 2, 1";

[[noreturn]] void refuse_scheme(std::string_view policy, std::string_view text,
                                const std::string& why) {
  fail(policy, "option 'scheme' = '" + std::string(text) + "' is not accepted (" + why +
                   "); expected " + std::string(kSchemeGrammar));
}

bool is_tier_bits(long long bits) {
  return bits == 16 || bits == 8 || bits == 4 || bits == 2 || bits == 1;
}

TierScheme make(std::string name, std::vector<Tier> tiers) {
  std::sort(tiers.begin(), tiers.end(),
            [](const Tier& a, const Tier& b) { return a.bits > b.bits; });
  return TierScheme{std::move(name), std::move(tiers)};
}

}  // namespace

double TierScheme::average_bits() const {
  double sum = 0.0;
  for (const auto& t : tiers) sum += t.share * t.bits;
  return sum;
}

TierScheme parse_scheme(std::string_view policy, std::string_view text) {
  std::vector<Tier> tiers;
  double total = 0.0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view pair = text.substr(start, comma - start);
    const size_t colon = pair.find(':');
    if (colon == std::string_view::npos)
      refuse_scheme(policy, text, "'" + std::string(pair) + "' has no ':'");
    const std::string_view share_text = pair.substr(0, colon);
    const std::string_view bits_text = pair.substr(colon + 1);
    double share = 0.0;
    auto [share_end, share_ec] =
        std::from_chars(share_text.data(), share_text.data() + share_text.size(), share);
    if (share_text.empty() || share_ec != std::errc() ||
        share_end != share_text.data() + share_text.size() || !std::isfinite(share) ||
        share <= 0.0 || share > 1.0)
      refuse_scheme(policy, text,
                    "share '" + std::string(share_text) + "' is not a number in (0, 1]");
    long long bits = 0;
    auto [bits_end, bits_ec] =
        std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (bits_text.empty() || bits_ec != std::errc() ||
        bits_end != bits_text.data() + bits_text.size() || !is_tier_bits(bits))
      refuse_scheme(policy, text, "bits '" + std::string(bits_text) + "' is not 16, 8, 4, 2 or 1");
    for (const auto& t : tiers)
      if (t.bits == static_cast<uint32_t>(bits))
        refuse_scheme(policy, text, std::to_string(bits) + " bits appear twice");
    tiers.push_back({share, static_cast<uint32_t>(bits)});
    total += share;
    start = comma + 1;
  }
  if (std::fabs(total - 1.0) > 1e-9)
    refuse_scheme(policy, text, "the shares sum to " + std::to_string(total) + ", not 1");
  return make(std::string(text), std::move(tiers));
}

const std::vector<Preset>& table1_presets() {
  // Seed 003, Table 1 (spec §5.3), literally: the 0.6 row averages 7.2 bits (ratio 0.45).
  static const std::vector<Preset> presets = {
      {0.1, make("ratio 0.1 (Table 1: 20% 4-bit + 80% 1-bit)", {{0.2, 4}, {0.8, 1}})},
      {0.2, make("ratio 0.2 (Table 1: 60% 4-bit + 40% 2-bit)", {{0.6, 4}, {0.4, 2}})},
      {0.4, make("ratio 0.4 (Table 1: 60% 8-bit + 40% 4-bit)", {{0.6, 8}, {0.4, 4}})},
      {0.6, make("ratio 0.6 (Table 1: 80% 8-bit + 20% 4-bit)", {{0.8, 8}, {0.2, 4}})},
      {0.8, make("ratio 0.8 (Table 1: 60% 16-bit + 40% 8-bit)", {{0.6, 16}, {0.4, 8}})},
      {1.0, make("ratio 1 (all 16-bit)", {{1.0, 16}})},
  };
  return presets;
}

std::string preset_ratios_text() { return "0.1, 0.2, 0.4, 0.6, 0.8, 1"; }

std::vector<uint64_t> tier_counts(const TierScheme& scheme, uint64_t n) {
  std::vector<uint64_t> counts;
  double cumulative = 0.0;
  uint64_t assigned = 0;
  for (size_t k = 0; k < scheme.tiers.size(); ++k) {
    cumulative += scheme.tiers[k].share;
    uint64_t end = k + 1 == scheme.tiers.size()
                       ? n
                       : static_cast<uint64_t>(std::llround(cumulative * static_cast<double>(n)));
    end = std::clamp(end, assigned, n);
    counts.push_back(end - assigned);
    assigned = end;
  }
  return counts;
}

}  // namespace hearth::kv_policies

#include "slot_ranking.hpp"

#include <algorithm>
#include <numeric>

namespace hearth::kv_policies {

std::vector<uint32_t> newest_first(const hearth_kv_view& view) {
  std::vector<uint32_t> order(view.n_slots);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (view.positions[a] != view.positions[b]) return view.positions[a] > view.positions[b];
    return a < b;
  });
  return order;
}

std::vector<uint8_t> newest_mask(const hearth_kv_view& view, uint64_t count) {
  std::vector<uint8_t> mask(view.n_slots, 0);
  const auto order = newest_first(view);
  for (size_t i = 0; i < order.size() && i < count; ++i) mask[order[i]] = 1;
  return mask;
}

std::vector<uint32_t> most_important_first(const hearth_kv_view& view,
                                           const std::vector<double>& score,
                                           const std::vector<uint8_t>& excluded) {
  std::vector<uint32_t> order;
  order.reserve(view.n_slots);
  for (uint32_t i = 0; i < view.n_slots; ++i)
    if (!excluded[i]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (score[a] != score[b]) return score[a] > score[b];
    if (view.positions[a] != view.positions[b]) return view.positions[a] > view.positions[b];
    return a < b;
  });
  return order;
}

void evict_least_important(const hearth_kv_view& view, const std::vector<double>& score,
                           const std::vector<uint8_t>& is_protected, uint64_t capacity,
                           uint8_t* evict) {
  if (view.n_slots <= capacity) return;
  uint64_t to_evict = view.n_slots - capacity;
  const auto order = most_important_first(view, score, is_protected);
  for (auto it = order.rbegin(); it != order.rend() && to_evict > 0; ++it, --to_evict)
    evict[*it] = 1;
}

}  // namespace hearth::kv_policies

#include "view_checks.hpp"

#include "option_reader.hpp"

#include <cstddef>
#include <string>

namespace hearth::kv_policies {

void check_view(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot) {
  if (view.n_slots > 0 && (view.positions == nullptr || view.bits == nullptr))
    fail(policy, "the view of layer " + std::to_string(view.layer) + ", KV head " +
                     std::to_string(view.kv_head) + " has " + std::to_string(view.n_slots) +
                     " slots but no positions or bits array");
  if (view.stats_per_slot != stats_per_slot)
    fail(policy, "the view carries " + std::to_string(view.stats_per_slot) +
                     " stats per slot but this policy asked for " + std::to_string(stats_per_slot) +
                     "; the cache manager must size stats from stats_per_slot()");
  if (stats_per_slot > 0 && view.n_slots > 0 && view.stats == nullptr)
    fail(policy, "the view has " + std::to_string(view.n_slots) + " slots but no stats array");
}

void check_observe(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot,
                   const float* attention_mass) {
  check_view(policy, view, stats_per_slot);
  if (view.n_slots > 0 && attention_mass == nullptr)
    fail(policy, "observe() got no attention_mass for " + std::to_string(view.n_slots) + " slots");
}

void check_decide(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot,
                  const uint8_t* evict) {
  check_view(policy, view, stats_per_slot);
  if (view.n_slots > 0 && evict == nullptr)
    fail(policy, "decide() got no evict array for " + std::to_string(view.n_slots) + " slots");
}

uint32_t query_heads(std::string_view policy, const hearth_kv_view& view) {
  constexpr size_t needed = offsetof(hearth_kv_view, n_query_heads) + sizeof(uint32_t);
  if (view.struct_size < needed) return 1;
  if (view.n_query_heads == 0)
    fail(policy, "view.n_query_heads is 0; it must count the query heads of this KV head's group");
  return view.n_query_heads;
}

uint64_t full_precision_capacity(std::string_view policy, const hearth_kv_budget& budget) {
  const uint64_t slot_bytes = budget.slot_bytes[16];
  if (slot_bytes == 0)
    fail(policy,
         "budget.slot_bytes[16] is 0: the cache manager must say how many bytes a "
         "full-precision slot takes");
  const uint64_t capacity = budget.budget_bytes / slot_bytes;
  if (capacity == 0)
    fail(policy, "the budget of " + std::to_string(budget.budget_bytes) +
                     " bytes holds no full-precision slot (" + std::to_string(slot_bytes) +
                     " bytes each); give a larger KV budget");
  return capacity;
}

}  // namespace hearth::kv_policies

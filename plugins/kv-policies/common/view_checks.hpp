// Checks on what core hands a policy, so a malformed view is an error naming the field instead
// of a read out of bounds.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <string_view>

namespace hearth::kv_policies {

// positions and bits present for n_slots, stats present and laid out as this policy asked.
void check_view(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot);
void check_observe(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot,
                   const float* attention_mass);
void check_decide(std::string_view policy, const hearth_kv_view& view, uint32_t stats_per_slot,
                  const uint8_t* evict);

// Query heads summed into the mass: view.n_query_heads (ABI 1.2), 1 for an older core's view.
uint32_t query_heads(std::string_view policy, const hearth_kv_view& view);

// Tokens that fit the budget at full precision: budget_bytes / slot_bytes[16] (at least 1).
uint64_t full_precision_capacity(std::string_view policy, const hearth_kv_budget& budget);

}  // namespace hearth::kv_policies

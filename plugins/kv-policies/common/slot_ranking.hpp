// Orders slots. Compaction moves the last slot into a hole, so slot index says nothing about
// age: everything here ranks by position or by score.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <vector>

namespace hearth::kv_policies {

// Slot indices, newest position first.
std::vector<uint32_t> newest_first(const hearth_kv_view& view);

// mask[i] = 1 for the `count` slots with the largest positions.
std::vector<uint8_t> newest_mask(const hearth_kv_view& view, uint64_t count);

// Slot indices with mask[i] == 0, most important first: higher score, and on equal scores the
// newer position (so the older of two equal tokens is the one given up).
std::vector<uint32_t> most_important_first(const hearth_kv_view& view,
                                           const std::vector<double>& score,
                                           const std::vector<uint8_t>& excluded);

// Sets evict[i] = 1 for the least important unprotected slots until at most `capacity` slots
// stay (or no unprotected slot is left).
void evict_least_important(const hearth_kv_view& view, const std::vector<double>& score,
                           const std::vector<uint8_t>& is_protected, uint64_t capacity,
                           uint8_t* evict);

}  // namespace hearth::kv_policies

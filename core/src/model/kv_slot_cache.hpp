// A KV cache managed by a policy plugin (kv_policies.md §1): per layer and per KV head its own
// slots, each with a position, a precision tier (16, 8, 4, 2 or 1 bits) and the policy's
// statistics; a budget in bytes; compaction when slots go. The records live in host memory in
// the layout backends read through HEARTH_OP_ATTENTION_SLOTS (abi.h, sdk/kv_quant.hpp).
#pragma once

#include <hearth/sdk/abi.h>
#include <hearth/kv_policy.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace hearth::detail {

struct KvSlotShape {
  int64_t n_layer = 0;
  int64_t n_head_kv = 0;
  int64_t n_head = 0;
  uint32_t head_dim = 0;
  uint32_t group_size = 0;  // channels per quantization group; divides head_dim
};

class KvSlotCache {
 public:
  // budget_bytes is per (layer, KV head). The policy session is owned from here on.
  KvSlotCache(const KvSlotShape& shape, KvPolicyPlugin policy,
              std::map<std::string, std::string> options, uint64_t budget_bytes);

  // Stores the keys (post-RoPE) and values of new tokens of layer il as 16-bit slots:
  // k and v are F32 [head_dim * n_head_kv, positions.size()].
  void append(int64_t il, const float* k, const float* v, std::span<const int32_t> positions);

  // The table HEARTH_OP_ATTENTION_SLOTS reads for layer il; valid until the layer changes.
  std::span<const hearth_kv_slot_head> table(int64_t il);
  // The most slots any KV head of layer il holds (the mass output's ne[0]).
  uint32_t max_slots(int64_t il) const;

  // Gives the policy the step's attention mass (F32 [stride, n_head_kv, query_positions.size()],
  // as the op wrote it), one query row at a time, then applies its decisions: evicted slots go
  // (the last slot moves into the hole) and demoted slots are requantized from what they hold.
  void update(int64_t il, const float* mass, int64_t stride,
              std::span<const int32_t> query_positions);

  // Forgets every slot at position >= n. n == 0 also restarts the policy's own state.
  void truncate(int32_t n);

  // Bytes the records of every slot take now (K and V, quantization metadata included).
  uint64_t bytes_used() const;
  uint64_t slots_used() const;
  uint64_t budget_bytes_per_head() const { return budget_.budget_bytes; }
  uint64_t slot_bytes(uint32_t bits) const { return budget_.slot_bytes[bits]; }
  const KvSlotShape& shape() const { return shape_; }
  const std::string& policy_name() const { return policy_.name(); }

 private:
  struct Tier {
    uint32_t bits = 16;
    std::vector<int32_t> positions;
    std::vector<uint8_t> k, v;    // records back to back
    std::vector<uint32_t> owner;  // the head's slot index of each record
  };
  // One (layer, KV head). Slot i of the policy's view is record index_in_tier[i] of tier
  // tier_of[i]; the view arrays are in slot order.
  struct Head {
    std::array<Tier, HEARTH_KV_MAX_TIERS> tiers;
    std::vector<int32_t> positions;
    std::vector<uint8_t> bits;
    std::vector<float> stats;
    std::vector<uint8_t> tier_of;
    std::vector<uint32_t> index_in_tier;
  };

  Head& head(int64_t il, int64_t g) {
    return heads_[static_cast<size_t>(il * shape_.n_head_kv + g)];
  }
  uint64_t record_bytes(uint32_t bits) const;
  // Removes record r of tier t, moving the tier's last record into its place.
  void remove_record(Head& h, size_t t, uint32_t r);
  // Appends a record (already encoded) to tier t for slot `slot`.
  void push_record(Head& h, size_t t, uint32_t slot, int32_t position, const uint8_t* k,
                   const uint8_t* v);
  // Moves slot i to tier of `bits`, requantizing its K and V.
  void retier(Head& h, uint32_t i, uint32_t bits);
  // Drops slot i: its record, then the last slot moves into i.
  void evict(Head& h, uint32_t i);
  void open_policy();

  KvSlotShape shape_;
  KvPolicyPlugin policy_;
  std::map<std::string, std::string> options_;
  std::unique_ptr<KvPolicySession> session_;
  uint32_t stats_per_slot_ = 0;
  hearth_kv_budget budget_{};
  std::vector<Head> heads_;
  std::vector<hearth_kv_slot_head> table_;  // one layer's, rebuilt by table()
  // Scratch reused across steps.
  std::vector<float> mass_view_, record_f32_;
  std::vector<uint8_t> evict_, old_bits_, encoded_k_, encoded_v_;
};

}  // namespace hearth::detail

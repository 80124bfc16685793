// Drives a real KV policy plugin the way the cache manager does (abi.h, hearth_kv_api): slots
// appended at 16 bits with zeroed stats, observe() once per query row, decide() once per step,
// then compaction that moves the last slot into each hole. Shared by the policy tests.
#pragma once

#include <hearth/error.hpp>
#include <hearth/plugin_registry.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace hearth::kv_test {

inline const std::filesystem::path kPluginDir = HEARTH_TEST_PLUGIN_DIR;

// A registry holding just one built policy plugin (libhearth-kv-<name>.so).
class PolicyUnderTest {
 public:
  explicit PolicyUnderTest(const std::string& name)
      : registry_(RegistryOptions{{}, false, false, {}}) {
    registry_.load(kPluginDir / ("libhearth-kv-" + name + ".so"));
    if (!registry_.refused().empty()) throw Error(registry_.refused().front().reason);
    plugin_ = std::make_unique<KvPolicyPlugin>(registry_.kv_policy(name));
  }
  const KvPolicyPlugin& plugin() const { return *plugin_; }
  std::unique_ptr<KvPolicySession> open(const std::map<std::string, std::string>& options = {}) {
    return plugin_->open(options);
  }

 private:
  PluginRegistry registry_;
  std::unique_ptr<KvPolicyPlugin> plugin_;
};

// Bytes per slot at each tier: K + V of head_dim 128 with fp16 (scale, min) per 32 channels.
inline hearth_kv_budget budget_of(uint64_t budget_bytes) {
  hearth_kv_budget b{};
  b.struct_size = sizeof(b);
  b.budget_bytes = budget_bytes;
  for (uint32_t bits : {16u, 8u, 4u, 2u, 1u})
    b.slot_bytes[bits] = 2 * hearth_kv_record_bytes(bits, 128, 32);
  return b;
}
inline uint64_t slot16() { return budget_of(0).slot_bytes[16]; }

// One (layer, KV head) cache as core keeps it.
class SlotCache {
 public:
  explicit SlotCache(KvPolicySession& session, uint32_t n_query_heads = 1)
      : session_(session),
        stats_per_slot_(session.stats_per_slot()),
        n_query_heads_(n_query_heads) {}

  void append(int32_t position) {
    positions_.push_back(position);
    bits_.push_back(16);
    stats_.resize(stats_.size() + stats_per_slot_, 0.0f);
    newest_ = std::max(newest_, position);
  }
  void append_range(int32_t first, int32_t last) {
    for (int32_t p = first; p <= last; ++p) append(p);
  }

  // One query row at `row_position`; mass is indexed by slot.
  void observe(int32_t row_position, const std::vector<float>& mass) {
    auto v = view();
    v.newest_position = row_position;
    session_.observe(v, mass.data(), 1);
  }
  // Per-slot mass of one row from a position -> mass map (slots not named get 0).
  void observe_by_position(int32_t row_position, const std::map<int32_t, float>& by_position) {
    std::vector<float> mass(size(), 0.0f);
    for (size_t i = 0; i < size(); ++i) {
      auto it = by_position.find(positions_[i]);
      if (it != by_position.end()) mass[i] = it->second;
    }
    observe(row_position, mass);
  }
  // A row that attends uniformly to every visible slot in each of the group's query heads.
  void observe_uniform(int32_t row_position) {
    size_t visible = 0;
    for (int32_t p : positions_) visible += p <= row_position;
    std::vector<float> mass(size(), 0.0f);
    for (size_t i = 0; i < size(); ++i)
      if (positions_[i] <= row_position)
        for (uint32_t h = 0; h < n_query_heads_; ++h) mass[i] += 1.0f / static_cast<float>(visible);
    observe(row_position, mass);
  }

  std::vector<uint8_t> decide(const hearth_kv_budget& budget) {
    std::vector<uint8_t> evict(size(), 0);
    auto v = view();
    session_.decide(v, budget, evict.data());
    return evict;
  }
  // Positions decide() would evict, sorted.
  std::vector<int32_t> evicted_positions(const hearth_kv_budget& budget) {
    const auto evict = decide(budget);
    std::vector<int32_t> out;
    for (size_t i = 0; i < size(); ++i)
      if (evict[i]) out.push_back(positions_[i]);
    std::sort(out.begin(), out.end());
    return out;
  }
  // decide() then drop the evicted slots the way core does: the last slot moves into the hole.
  void step(const hearth_kv_budget& budget) {
    const auto evict = decide(budget);
    std::vector<uint8_t> gone(evict);
    for (size_t i = 0; i < gone.size();) {
      if (!gone[i]) {
        ++i;
        continue;
      }
      const size_t last = positions_.size() - 1;
      positions_[i] = positions_[last];
      bits_[i] = bits_[last];
      gone[i] = gone[last];
      std::copy_n(stats_.begin() + last * stats_per_slot_, stats_per_slot_,
                  stats_.begin() + i * stats_per_slot_);
      positions_.pop_back();
      bits_.pop_back();
      gone.pop_back();
      stats_.resize(positions_.size() * stats_per_slot_);
    }
  }

  size_t size() const { return positions_.size(); }
  size_t slot_of(int32_t position) const {
    return static_cast<size_t>(std::find(positions_.begin(), positions_.end(), position) -
                               positions_.begin());
  }
  bool holds(int32_t position) const { return slot_of(position) < size(); }
  std::vector<int32_t> sorted_positions() const {
    auto p = positions_;
    std::sort(p.begin(), p.end());
    return p;
  }
  uint8_t bits_at(int32_t position) const { return bits_[slot_of(position)]; }
  void set_bits(int32_t position, uint8_t bits) { bits_[slot_of(position)] = bits; }
  const float* stats_at(int32_t position) const {
    return stats_.data() + slot_of(position) * stats_per_slot_;
  }
  std::vector<int32_t>& positions() { return positions_; }

  hearth_kv_view view() {
    hearth_kv_view v{};
    v.struct_size = sizeof(v);
    v.n_slots = static_cast<uint32_t>(size());
    v.stats_per_slot = stats_per_slot_;
    v.positions = positions_.data();
    v.bits = bits_.data();
    v.stats = stats_.data();
    v.newest_position = newest_;
    v.n_query_heads = n_query_heads_;
    v.head_dim = 128;
    v.group_size = 32;
    return v;
  }

 private:
  KvPolicySession& session_;
  uint32_t stats_per_slot_;
  uint32_t n_query_heads_;
  int32_t newest_ = -1;
  std::vector<int32_t> positions_;
  std::vector<uint8_t> bits_;
  std::vector<float> stats_;
};

}  // namespace hearth::kv_test

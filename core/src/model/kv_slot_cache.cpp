#include "model/kv_slot_cache.hpp"

#include <hearth/error.hpp>
#include <hearth/sdk/kv_quant.hpp>

#include <algorithm>
#include <cstring>

namespace hearth::detail {
namespace {

constexpr std::array<uint32_t, HEARTH_KV_MAX_TIERS> kTierBits = {16, 8, 4, 2, 1};

size_t tier_index(uint32_t bits) {
  for (size_t t = 0; t < kTierBits.size(); ++t)
    if (kTierBits[t] == bits) return t;
  return kTierBits.size();
}

}  // namespace

KvSlotCache::KvSlotCache(const KvSlotShape& shape, KvPolicyPlugin policy,
                         std::map<std::string, std::string> options, uint64_t budget_bytes)
    : shape_(shape), policy_(std::move(policy)), options_(std::move(options)) {
  if (shape_.group_size == 0 || shape_.head_dim % shape_.group_size != 0)
    throw Error("KV cache: quantization group size " + std::to_string(shape_.group_size) +
                " does not divide head_dim " + std::to_string(shape_.head_dim));
  budget_.struct_size = sizeof(budget_);
  budget_.budget_bytes = budget_bytes;
  for (uint32_t bits : kTierBits) budget_.slot_bytes[bits] = 2 * record_bytes(bits);
  heads_.resize(static_cast<size_t>(shape_.n_layer * shape_.n_head_kv));
  for (Head& h : heads_)
    for (size_t t = 0; t < kTierBits.size(); ++t) h.tiers[t].bits = kTierBits[t];
  table_.resize(static_cast<size_t>(shape_.n_head_kv));
  record_f32_.resize(shape_.head_dim);
  encoded_k_.resize(record_bytes(16));
  encoded_v_.resize(record_bytes(16));
  open_policy();
}

void KvSlotCache::open_policy() {
  session_.reset();
  session_ = policy_.open(options_);
  stats_per_slot_ = session_->stats_per_slot();
}

uint64_t KvSlotCache::record_bytes(uint32_t bits) const {
  return hearth_kv_record_bytes(bits, shape_.head_dim, shape_.group_size);
}

void KvSlotCache::append(int64_t il, const float* k, const float* v,
                         std::span<const int32_t> positions) {
  const uint64_t kv_dim = static_cast<uint64_t>(shape_.head_dim) * shape_.n_head_kv;
  for (int64_t g = 0; g < shape_.n_head_kv; ++g) {
    Head& h = head(il, g);
    for (size_t j = 0; j < positions.size(); ++j) {
      const float* kj = k + j * kv_dim + static_cast<uint64_t>(g) * shape_.head_dim;
      const float* vj = v + j * kv_dim + static_cast<uint64_t>(g) * shape_.head_dim;
      sdk::kv_quantize_record(kj, 16, shape_.head_dim, shape_.group_size, encoded_k_.data());
      sdk::kv_quantize_record(vj, 16, shape_.head_dim, shape_.group_size, encoded_v_.data());
      const auto slot = static_cast<uint32_t>(h.positions.size());
      h.positions.push_back(positions[j]);
      h.bits.push_back(16);
      h.stats.resize(h.stats.size() + stats_per_slot_, 0.0f);
      h.tier_of.push_back(0);
      h.index_in_tier.push_back(0);
      push_record(h, 0, slot, positions[j], encoded_k_.data(), encoded_v_.data());
    }
  }
}

void KvSlotCache::push_record(Head& h, size_t t, uint32_t slot, int32_t position, const uint8_t* k,
                              const uint8_t* v) {
  Tier& tier = h.tiers[t];
  const uint64_t rb = record_bytes(tier.bits);
  h.tier_of[slot] = static_cast<uint8_t>(t);
  h.index_in_tier[slot] = static_cast<uint32_t>(tier.positions.size());
  tier.positions.push_back(position);
  tier.owner.push_back(slot);
  tier.k.insert(tier.k.end(), k, k + rb);
  tier.v.insert(tier.v.end(), v, v + rb);
}

void KvSlotCache::remove_record(Head& h, size_t t, uint32_t r) {
  Tier& tier = h.tiers[t];
  const uint64_t rb = record_bytes(tier.bits);
  const auto last = static_cast<uint32_t>(tier.positions.size() - 1);
  if (r != last) {
    tier.positions[r] = tier.positions[last];
    tier.owner[r] = tier.owner[last];
    std::memcpy(tier.k.data() + r * rb, tier.k.data() + last * rb, rb);
    std::memcpy(tier.v.data() + r * rb, tier.v.data() + last * rb, rb);
    h.index_in_tier[tier.owner[r]] = r;
  }
  tier.positions.pop_back();
  tier.owner.pop_back();
  tier.k.resize(tier.k.size() - rb);
  tier.v.resize(tier.v.size() - rb);
}

void KvSlotCache::retier(Head& h, uint32_t i, uint32_t bits) {
  const size_t from = h.tier_of[i];
  const size_t to = tier_index(bits);
  const Tier& old = h.tiers[from];
  const uint64_t rb = record_bytes(old.bits);
  const uint32_t r = h.index_in_tier[i];
  const uint32_t hd = shape_.head_dim, gs = shape_.group_size;
  sdk::kv_dequantize_record(old.k.data() + r * rb, old.bits, hd, gs, record_f32_.data());
  sdk::kv_quantize_record(record_f32_.data(), bits, hd, gs, encoded_k_.data());
  sdk::kv_dequantize_record(old.v.data() + r * rb, old.bits, hd, gs, record_f32_.data());
  sdk::kv_quantize_record(record_f32_.data(), bits, hd, gs, encoded_v_.data());
  const int32_t position = old.positions[r];
  remove_record(h, from, r);
  push_record(h, to, i, position, encoded_k_.data(), encoded_v_.data());
}

void KvSlotCache::evict(Head& h, uint32_t i) {
  remove_record(h, h.tier_of[i], h.index_in_tier[i]);
  const auto last = static_cast<uint32_t>(h.positions.size() - 1);
  if (i != last) {
    h.positions[i] = h.positions[last];
    h.bits[i] = h.bits[last];
    h.tier_of[i] = h.tier_of[last];
    h.index_in_tier[i] = h.index_in_tier[last];
    std::copy_n(h.stats.begin() + static_cast<ptrdiff_t>(last) * stats_per_slot_, stats_per_slot_,
                h.stats.begin() + static_cast<ptrdiff_t>(i) * stats_per_slot_);
    h.tiers[h.tier_of[i]].owner[h.index_in_tier[i]] = i;
  }
  h.positions.pop_back();
  h.bits.pop_back();
  h.tier_of.pop_back();
  h.index_in_tier.pop_back();
  h.stats.resize(h.stats.size() - stats_per_slot_);
}

std::span<const hearth_kv_slot_head> KvSlotCache::table(int64_t il) {
  for (int64_t g = 0; g < shape_.n_head_kv; ++g) {
    const Head& h = head(il, g);
    hearth_kv_slot_head& entry = table_[static_cast<size_t>(g)];
    entry = {};
    entry.n_tiers = HEARTH_KV_MAX_TIERS;
    for (size_t t = 0; t < kTierBits.size(); ++t) {
      const Tier& tier = h.tiers[t];
      entry.tiers[t] = {tier.bits, static_cast<uint32_t>(tier.positions.size()),
                        tier.positions.data(), tier.k.data(), tier.v.data()};
    }
  }
  return table_;
}

uint32_t KvSlotCache::max_slots(int64_t il) const {
  size_t most = 0;
  for (int64_t g = 0; g < shape_.n_head_kv; ++g)
    most = std::max(most, heads_[static_cast<size_t>(il * shape_.n_head_kv + g)].positions.size());
  return static_cast<uint32_t>(most);
}

void KvSlotCache::update(int64_t il, const float* mass, int64_t stride,
                         std::span<const int32_t> query_positions) {
  for (int64_t g = 0; g < shape_.n_head_kv; ++g) {
    Head& h = head(il, g);
    const auto n = static_cast<uint32_t>(h.positions.size());
    // The op numbers slots through the tiers in order; the view numbers them by slot.
    std::array<uint32_t, HEARTH_KV_MAX_TIERS> tier_offset{};
    for (size_t t = 1; t < kTierBits.size(); ++t)
      tier_offset[t] = tier_offset[t - 1] + static_cast<uint32_t>(h.tiers[t - 1].positions.size());

    hearth_kv_view view{};
    view.struct_size = sizeof(view);
    view.layer = static_cast<uint32_t>(il);
    view.kv_head = static_cast<uint32_t>(g);
    view.n_slots = n;
    view.stats_per_slot = stats_per_slot_;
    view.positions = h.positions.data();
    view.bits = h.bits.data();
    view.stats = h.stats.data();
    view.n_query_heads = static_cast<uint32_t>(shape_.n_head / shape_.n_head_kv);
    view.head_dim = shape_.head_dim;
    view.group_size = shape_.group_size;

    mass_view_.resize(n);
    for (size_t row = 0; row < query_positions.size(); ++row) {
      const float* m = mass + (static_cast<int64_t>(row) * shape_.n_head_kv + g) * stride;
      for (uint32_t i = 0; i < n; ++i)
        mass_view_[i] = m[tier_offset[h.tier_of[i]] + h.index_in_tier[i]];
      view.newest_position = query_positions[row];
      session_->observe(view, mass_view_.data(), 1);
    }
    view.newest_position = query_positions.empty() ? 0 : query_positions.back();

    evict_.assign(n, 0);
    old_bits_.assign(h.bits.begin(), h.bits.end());
    session_->decide(view, budget_, evict_.data());

    for (uint32_t i = 0; i < n; ++i) {
      if (evict_[i] || h.bits[i] == old_bits_[i]) continue;
      if (!sdk::kv_bits_valid(h.bits[i]) || h.bits[i] > old_bits_[i])
        throw Error("KV policy '" + policy_.name() + "' set slot " + std::to_string(i) +
                        " (position " + std::to_string(h.positions[i]) + ", layer " +
                        std::to_string(il) + ", KV head " + std::to_string(g) + ") from " +
                        std::to_string(old_bits_[i]) + " to " + std::to_string(h.bits[i]) +
                        " bits; a slot may only go down to 8, 4, 2 or 1 bits",
                    HEARTH_ERR_INTERNAL);
      retier(h, i, h.bits[i]);
    }
    for (uint32_t i = n; i-- > 0;)
      if (evict_[i]) evict(h, i);
  }
}

void KvSlotCache::truncate(int32_t n) {
  for (Head& h : heads_)
    for (auto i = static_cast<uint32_t>(h.positions.size()); i-- > 0;)
      if (h.positions[i] >= n) evict(h, i);
  if (n == 0) open_policy();
}

uint64_t KvSlotCache::bytes_used() const {
  uint64_t bytes = 0;
  for (const Head& h : heads_)
    for (const Tier& t : h.tiers) bytes += t.positions.size() * budget_.slot_bytes[t.bits];
  return bytes;
}

uint64_t KvSlotCache::slots_used() const {
  uint64_t slots = 0;
  for (const Head& h : heads_) slots += h.positions.size();
  return slots;
}

}  // namespace hearth::detail

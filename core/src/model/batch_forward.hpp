// The decoder forward pass over the tokens of several sequences at once: every matmul runs over
// all tokens together ([n_embd, total_tokens]); attention runs per sequence over its own KV cache.
// A single Session's decode is the one-sequence case.
#pragma once

#include <hearth/backend.hpp>
#include <hearth/model.hpp>
#include <hearth/session.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace hearth::detail {

// The cache element type for `requested` on the model's devices: F16 when asked for and every
// device's backend accepts both COPY F32 -> F16 and ATTENTION over F16 keys and values (probed
// with shapes only), else F32.
hearth_dtype kv_cache_dtype(const Model& model, KvType requested);

// One sequence's keys and values on the device. Keys and values are computed in F32 and
// copied (COPY, rounding) into an F16 cache, or moved (ADD of zeros, exact) into an F32 one.
// Each layer's part lives on the device that runs the layer.
struct KvCache {
  KvCache(const Model& model, int64_t n_ctx, hearth_dtype dtype);
  int64_t n_ctx;
  hearth_dtype dtype;              // F32 or F16
  std::vector<DeviceBuffer> k, v;  // per layer: dtype [head_dim, n_head_kv, n_ctx]
  std::vector<DeviceBuffer> key_positions;  // per model device: I32 [n_ctx], slot i at position i
};

// One device's activations for a forward pass of up to max_tokens tokens.
struct DeviceActivations {
  DeviceBuffer positions;  // I32 [max_tokens]: each token's position in its sequence
  DeviceBuffer x, norm, q, k, v, attn, proj, gate, up;
  DeviceBuffer zero_kv;  // F32 [kv_dim] zeros: adding it copies new keys into a cache
};

// Activations on every device of the model, and logits for up to max_logit_rows tokens on the
// output device.
struct ForwardWorkspace {
  ForwardWorkspace(const Model& model, int64_t max_tokens, int64_t max_logit_rows);
  int64_t max_tokens;
  int64_t max_logit_rows;
  std::vector<DeviceActivations> on_device;  // per model device
  DeviceBuffer logits;
  std::vector<float> x_host;  // the residual stream crossing from one device to the next
};

class KvSlotCache;

struct ForwardSequence {
  KvCache* cache = nullptr;
  KvSlotCache* slots = nullptr;  // a policy-managed cache instead of `cache` (kv_slot_cache.hpp)
  int64_t n_past = 0;  // tokens already in the cache; the new ones go after them
  std::span<const int32_t> tokens;
  bool all_logits = false;      // logits of every token, else of the last one only
  float* logits_out = nullptr;  // host: n_vocab floats per token asked for; null: no logits
};

// Runs the sequences' tokens in one pass and writes their keys and values into their caches.
// The caller has checked that tokens are in the vocabulary, that each sequence fits its cache,
// and that the total fits the workspace.
void forward(const Model& model, ForwardWorkspace& workspace,
             std::span<const ForwardSequence> sequences);

}  // namespace hearth::detail

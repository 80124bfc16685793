// One conversation's state on a model: the KV cache, the tokens in it, and the forward pass.
#pragma once

#include <hearth/config.hpp>
#include <hearth/kv_policy.hpp>
#include <hearth/model.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace hearth {

// Element type of the KV cache. F16 is llama.cpp's default: it halves the cache and rounds
// attention's products as llama.cpp does (abi.h, ATTENTION), so logits agree with its closely.
enum class KvType { f16, f32 };

struct SessionOptions {
  int64_t n_ctx = 0;      // 0 = the model's training context
  int64_t n_batch = 512;  // tokens per forward step when evaluating a prompt
  // f16 falls back to f32 when the model's backend cannot store or attend over an F16 cache.
  KvType kv_type = KvType::f16;
  // A KV-cache policy plugin (docs/kv-policies.md). With one, the cache keeps per-head slots of
  // mixed precision within kv_budget instead of n_ctx tokens at kv_type; kv_options go to the
  // plugin. Needs a backend that runs ATTENTION_SLOTS on host memory (the CPU backend).
  std::optional<KvPolicyPlugin> kv_policy;
  KvBudget kv_budget;
  std::map<std::string, std::string> kv_options;
};

// What the KV cache holds now.
struct KvUsage {
  std::string policy;          // "" for the plain cache
  uint64_t bytes_used = 0;     // bytes of the K and V records held (quantization metadata included)
  uint64_t budget_bytes = 0;   // the configured budget (the whole cache's bytes without a policy)
  uint64_t full_bytes = 0;     // n_ctx tokens at 16 bits: what a fraction budget is a fraction of
  uint64_t slots = 0;          // (layer, KV head, token) slots held
  uint64_t slot_block_bytes = 0;  // one token's slots in every layer and KV head at 16 bits
};

namespace detail {
struct KvCache;
class KvSlotCache;
struct ForwardWorkspace;
}  // namespace detail

class BatchDecoder;

class Session {
 public:
  explicit Session(std::shared_ptr<const Model> model, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Appends tokens to the context and runs them. Returns the logits of the last token
  // (n_vocab floats), or of every token (n_tokens * n_vocab) when all_logits is true.
  // Throws hearth::Error (naming both numbers) if the context would overflow; nothing changes then.
  std::vector<float> decode(std::span<const int32_t> tokens, bool all_logits = false);

  int64_t n_past() const { return static_cast<int64_t>(history_.size()); }
  int64_t n_ctx() const { return n_ctx_; }
  const std::vector<int32_t>& history() const { return history_; }
  // Forgets everything after the first n tokens (the cache keeps the rest).
  void truncate(int64_t n);
  void clear() { truncate(0); }
  const Model& model() const { return *model_; }
  // The cache's element type in use: options.kv_type, or f32 where the backend has no F16 cache.
  KvType kv_type() const;
  KvUsage kv_usage() const;
  bool has_kv_policy() const { return slots_ != nullptr; }

 private:
  // A BatchDecoder runs this session's tokens together with other sessions' (batch.hpp).
  friend class BatchDecoder;
  // Throws hearth::Error if tokens is empty, holds an id outside the vocabulary, or does not fit.
  void check_fits(std::span<const int32_t> tokens) const;

  std::shared_ptr<const Model> model_;
  int64_t n_ctx_;
  int64_t n_batch_;
  std::vector<int32_t> history_;
  std::unique_ptr<detail::KvCache> cache_;        // the plain cache, or
  std::unique_ptr<detail::KvSlotCache> slots_;    // the policy-managed one
  // Activations for decode(); made on first use, so sessions only ever decoded by a
  // BatchDecoder hold none.
  std::unique_ptr<detail::ForwardWorkspace> workspace_;
};

}  // namespace hearth

// One conversation's state on a model: the KV cache, the tokens in it, and the forward pass.
#pragma once

#include <hearth/model.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace hearth {

struct SessionOptions {
  int64_t n_ctx = 0;     // 0 = the model's training context
  int64_t n_batch = 512; // tokens per forward step when evaluating a prompt
};

namespace detail {
struct SessionState;
}

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

 private:
  std::shared_ptr<const Model> model_;
  int64_t n_ctx_;
  int64_t n_batch_;
  std::vector<int32_t> history_;
  std::unique_ptr<detail::SessionState> state_;
};

}  // namespace hearth

// Continuous batching: several sessions on one model advance in one forward pass. Every matmul
// runs over all their tokens together, so a step of N sequences reads the weights once instead
// of N times; attention stays per sequence, over each session's own KV cache. The logits are
// those each session's own decode() would give (to float rounding of the larger matmuls;
// with an F16 KV cache, to F16 rounding of the cached keys and values).
#pragma once

#include <hearth/model.hpp>
#include <hearth/session.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace hearth {

namespace detail {
struct ForwardWorkspace;
}

// One session's part of a batched step: tokens to append (a prompt chunk or the last sampled
// token) and, after decode(), the logits of its last token.
struct SequenceStep {
  Session* session = nullptr;
  std::span<const int32_t> tokens;
  bool want_logits = true;    // false for a prompt chunk that is not the prompt's end
  std::vector<float> logits;  // out: n_vocab floats, or empty when !want_logits
};

class BatchDecoder {
 public:
  // max_tokens: the most tokens one decode() carries over all its steps; max_sequences: the most
  // steps. Device memory for the activations is sized by both.
  BatchDecoder(std::shared_ptr<const Model> model, int64_t max_tokens, int64_t max_sequences);
  ~BatchDecoder();
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;

  // Runs every step's tokens in one forward pass and appends them to their sessions. Throws
  // hearth::Error, with nothing changed, when a session is null, of another model or in two
  // steps, a step has no tokens or does not fit its context, a token is outside the vocabulary,
  // or the steps exceed max_tokens / max_sequences.
  void decode(std::span<SequenceStep> steps);

  int64_t max_tokens() const { return max_tokens_; }
  int64_t max_sequences() const { return max_sequences_; }

 private:
  std::shared_ptr<const Model> model_;
  int64_t max_tokens_;
  int64_t max_sequences_;
  std::unique_ptr<detail::ForwardWorkspace> workspace_;
};

}  // namespace hearth

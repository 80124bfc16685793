// A session: one sequence's KV cache and history; its decode is the one-sequence case of the
// batched forward pass (batch_forward.cpp).
#include <hearth/error.hpp>
#include <hearth/session.hpp>

#include <algorithm>

#include "model/batch_forward.hpp"

namespace hearth {

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : model_(std::move(model)) {
  const ModelHyperparams& hp = model_->hparams();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : hp.n_ctx_train;
  n_batch_ = std::clamp<int64_t>(options.n_batch, 1, n_ctx_);
  cache_ = std::make_unique<detail::KvCache>(*model_, n_ctx_,
                                             detail::kv_cache_dtype(*model_, options.kv_type));
}

KvType Session::kv_type() const {
  return cache_->dtype == HEARTH_DTYPE_F16 ? KvType::f16 : KvType::f32;
}

Session::~Session() = default;

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past())
    throw Error("cannot truncate a context of " + std::to_string(n_past()) + " tokens to " +
                std::to_string(n));
  history_.resize(static_cast<size_t>(n));
}

void Session::check_fits(std::span<const int32_t> tokens) const {
  const int64_t n_vocab = model_->hparams().n_vocab;
  if (tokens.empty()) throw Error("decode() needs at least one token");
  if (n_past() + static_cast<int64_t>(tokens.size()) > n_ctx_)
    throw Error("the context holds " + std::to_string(n_ctx_) + " tokens: " +
                std::to_string(n_past()) + " are used and " + std::to_string(tokens.size()) +
                " more do not fit; use a larger context (-c) or a shorter prompt");
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab)
      throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                  std::to_string(n_vocab - 1) + ")");
}

std::vector<float> Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  check_fits(tokens);
  const int64_t n_vocab = model_->hparams().n_vocab;
  if (!workspace_)
    workspace_ = std::make_unique<detail::ForwardWorkspace>(*model_, n_batch_, n_batch_);
  std::vector<float> out(all_logits ? tokens.size() * static_cast<size_t>(n_vocab)
                                    : static_cast<size_t>(n_vocab));
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
    const size_t n = std::min(static_cast<size_t>(n_batch_), tokens.size() - start);
    const bool last_chunk = start + n >= tokens.size();
    detail::ForwardSequence sequence;
    sequence.cache = cache_.get();
    sequence.n_past = n_past();
    sequence.tokens = tokens.subspan(start, n);
    sequence.all_logits = all_logits;
    if (all_logits)
      sequence.logits_out = out.data() + start * static_cast<size_t>(n_vocab);
    else if (last_chunk)
      sequence.logits_out = out.data();
    detail::forward(*model_, *workspace_, std::span(&sequence, 1));
    history_.insert(history_.end(), sequence.tokens.begin(), sequence.tokens.end());
  }
  return out;
}

}  // namespace hearth

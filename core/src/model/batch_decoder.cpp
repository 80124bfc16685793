#include <hearth/batch.hpp>
#include <hearth/error.hpp>

#include <set>

#include "model/batch_forward.hpp"

namespace hearth {

BatchDecoder::BatchDecoder(std::shared_ptr<const Model> model, int64_t max_tokens,
                           int64_t max_sequences)
    : model_(std::move(model)), max_tokens_(max_tokens), max_sequences_(max_sequences) {
  if (max_tokens < 1 || max_sequences < 1)
    throw Error("a batch decoder needs room for at least one token and one sequence (got " +
                std::to_string(max_tokens) + " tokens, " + std::to_string(max_sequences) +
                " sequences)");
  workspace_ = std::make_unique<detail::ForwardWorkspace>(*model_, max_tokens, max_sequences);
}

BatchDecoder::~BatchDecoder() = default;

void BatchDecoder::decode(std::span<SequenceStep> steps) {
  if (steps.empty()) return;
  if (static_cast<int64_t>(steps.size()) > max_sequences_)
    throw Error("a batched step of " + std::to_string(steps.size()) +
                " sequences exceeds the decoder's " + std::to_string(max_sequences_));
  int64_t total = 0;
  std::set<const Session*> seen;
  for (const auto& step : steps) {
    if (!step.session) throw Error("a batched step has no session");
    if (&step.session->model() != model_.get())
      throw Error("a batched step's session runs another model than the batch decoder");
    if (!seen.insert(step.session).second)
      throw Error("a session appears twice in one batched step");
    step.session->check_fits(step.tokens);
    total += static_cast<int64_t>(step.tokens.size());
  }
  if (total > max_tokens_)
    throw Error("a batched step of " + std::to_string(total) + " tokens exceeds the decoder's " +
                std::to_string(max_tokens_));

  const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
  std::vector<detail::ForwardSequence> sequences(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    auto& step = steps[i];
    step.logits.assign(step.want_logits ? n_vocab : 0, 0.0f);
    sequences[i].cache = step.session->cache_.get();
    sequences[i].slots = step.session->slots_.get();
    sequences[i].n_past = step.session->n_past();
    sequences[i].tokens = step.tokens;
    sequences[i].logits_out = step.want_logits ? step.logits.data() : nullptr;
  }
  detail::forward(*model_, *workspace_, sequences);
  for (auto& step : steps)
    step.session->history_.insert(step.session->history_.end(), step.tokens.begin(),
                                  step.tokens.end());
}

}  // namespace hearth

// A session: one sequence's KV cache and history; its decode is the one-sequence case of the
// batched forward pass (batch_forward.cpp).
#include <hearth/error.hpp>
#include <hearth/session.hpp>

#include <algorithm>

#include "model/batch_forward.hpp"
#include "model/kv_slot_cache.hpp"
#include "model/tensor_ops.hpp"

namespace hearth {

namespace {

// Bytes one token takes in one (layer, KV head) at 16 bits: its K and V records.
uint64_t slot16_bytes(const ModelHyperparams& hp) {
  return 2 * 2 * static_cast<uint64_t>(hp.head_dim);
}

uint64_t budget_per_head(const ModelHyperparams& hp, int64_t n_ctx, const KvBudget& budget) {
  const uint64_t heads = static_cast<uint64_t>(hp.n_layer * hp.n_head_kv);
  const uint64_t slot = slot16_bytes(hp);
  uint64_t bytes = 0;
  switch (budget.unit) {
    case KvBudget::Unit::fraction:
      if (!(budget.fraction > 0.0 && budget.fraction <= 1.0))
        throw Error("KV budget " + budget.to_string() + " must be a fraction in (0, 1]");
      bytes = static_cast<uint64_t>(budget.fraction * static_cast<double>(n_ctx) *
                                    static_cast<double>(slot));
      break;
    case KvBudget::Unit::bytes:
      bytes = budget.amount / heads;
      break;
    case KvBudget::Unit::tokens:
      bytes = budget.amount * slot;
      break;
  }
  if (bytes < slot)
    throw Error("KV budget " + budget.to_string() + " leaves each of the " + std::to_string(heads) +
                " (layer, KV head) caches " + std::to_string(bytes) +
                " bytes, less than one token at 16 bits (" + std::to_string(slot) +
                " bytes); raise the budget");
  return bytes;
}

uint32_t quantization_group(int64_t head_dim) {
  if (head_dim > 128 && head_dim % 128 == 0) return 128;
  return static_cast<uint32_t>(head_dim);
}

// Every device of the model must run ATTENTION_SLOTS over a cache in host memory (the slots
// live in KvSlotCache; a GPU backend gathers them to the device per op).
void check_device_runs_slots(const Model& model, const std::string& policy) {
  const ModelHyperparams& hp = model.hparams();
  hearth_kv_slot_head table{};
  int32_t position = 0;
  hearth_op op{};
  op.struct_size = sizeof(op);
  op.kind = HEARTH_OP_ATTENTION_SLOTS;
  op.src[0] = detail::make_tensor(nullptr, HEARTH_DTYPE_F32, {hp.head_dim, hp.n_head, 1});
  op.dst = op.src[0];
  op.src[1] = detail::make_tensor(&table, HEARTH_DTYPE_I8, {hp.n_head_kv});
  op.src[2] = detail::make_tensor(&position, HEARTH_DTYPE_I32, {1});
  op.n_src = 3;
  op.iparams[0] = static_cast<int32_t>(quantization_group(hp.head_dim));
  op.fparams[0] = 1.0f;
  for (size_t d = 0; d < model.device_count(); ++d)
    if (auto reason = model.device_at(d).unsupported_reason(op))
      throw Error("KV policy '" + policy + "' needs ATTENTION_SLOTS, which backend " +
                  model.device_at(d).backend_name() + " refuses: " + *reason);
}

}  // namespace

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : model_(std::move(model)) {
  const ModelHyperparams& hp = model_->hparams();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : hp.n_ctx_train;
  n_batch_ = std::clamp<int64_t>(options.n_batch, 1, n_ctx_);
  if (options.kv_policy) {
    const std::string& name = options.kv_policy->name();
    check_device_runs_slots(*model_, name);
    detail::KvSlotShape shape;
    shape.n_layer = hp.n_layer;
    shape.n_head_kv = hp.n_head_kv;
    shape.n_head = hp.n_head;
    shape.head_dim = static_cast<uint32_t>(hp.head_dim);
    shape.group_size = quantization_group(hp.head_dim);
    slots_ = std::make_unique<detail::KvSlotCache>(shape, *options.kv_policy,
                                                   std::move(options.kv_options),
                                                   budget_per_head(hp, n_ctx_, options.kv_budget));
    return;
  }
  cache_ = std::make_unique<detail::KvCache>(*model_, n_ctx_,
                                             detail::kv_cache_dtype(*model_, options.kv_type));
}

KvType Session::kv_type() const {
  return !cache_ || cache_->dtype == HEARTH_DTYPE_F16 ? KvType::f16 : KvType::f32;
}

KvUsage Session::kv_usage() const {
  const ModelHyperparams& hp = model_->hparams();
  const uint64_t heads = static_cast<uint64_t>(hp.n_layer * hp.n_head_kv);
  KvUsage usage;
  usage.slot_block_bytes = heads * slot16_bytes(hp);
  usage.full_bytes = static_cast<uint64_t>(n_ctx_) * usage.slot_block_bytes;
  if (slots_) {
    usage.policy = slots_->policy_name();
    usage.bytes_used = slots_->bytes_used();
    usage.budget_bytes = slots_->budget_bytes_per_head() * heads;
    usage.slots = slots_->slots_used();
    return usage;
  }
  const uint64_t element = cache_->dtype == HEARTH_DTYPE_F16 ? 2 : 4;
  const uint64_t per_token = heads * 2 * static_cast<uint64_t>(hp.head_dim) * element;
  usage.bytes_used = static_cast<uint64_t>(n_past()) * per_token;
  usage.budget_bytes = static_cast<uint64_t>(n_ctx_) * per_token;
  usage.slots = static_cast<uint64_t>(n_past()) * heads;
  return usage;
}

Session::~Session() = default;

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past())
    throw Error("cannot truncate a context of " + std::to_string(n_past()) + " tokens to " +
                std::to_string(n));
  history_.resize(static_cast<size_t>(n));
  if (slots_) slots_->truncate(static_cast<int32_t>(n));
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
    sequence.slots = slots_.get();
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

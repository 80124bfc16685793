// The decoder forward pass over a batch of tokens, as a sequence of backend ops.
#include <hearth/error.hpp>
#include <hearth/session.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "model/tensor_ops.hpp"
#include "model/weights.hpp"

namespace hearth {
namespace detail {

// Device memory of one session: the KV cache and the activations of one batch.
struct SessionState {
  std::vector<DeviceBuffer> k_cache, v_cache;  // per layer: F32 [head_dim, n_head_kv, n_ctx]
  DeviceBuffer key_positions;                  // I32 [n_ctx]: position of each cache slot
  DeviceBuffer query_positions;                // I32 [n_batch]
  DeviceBuffer x, norm, q, attn, proj, gate, up, logits;
};

}  // namespace detail

namespace {

using detail::column_view;
using detail::make_tensor;

constexpr hearth_dtype F32 = HEARTH_DTYPE_F32;

}  // namespace

Session::Session(std::shared_ptr<const Model> model, SessionOptions options)
    : model_(std::move(model)), state_(std::make_unique<detail::SessionState>()) {
  const ModelHyperparams& hp = model_->hparams();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : hp.n_ctx_train;
  n_batch_ = std::clamp<int64_t>(options.n_batch, 1, n_ctx_);
  BackendDevice& dev = model_->device();
  const uint64_t f = sizeof(float);
  const uint64_t kv_bytes = static_cast<uint64_t>(hp.n_head_kv * hp.head_dim * n_ctx_) * f;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    state_->k_cache.push_back(dev.alloc(kv_bytes));
    state_->v_cache.push_back(dev.alloc(kv_bytes));
  }
  std::vector<int32_t> positions(static_cast<size_t>(n_ctx_));
  std::iota(positions.begin(), positions.end(), 0);
  state_->key_positions = dev.alloc(positions.size() * sizeof(int32_t));
  dev.copy_to_device(state_->key_positions.data(), positions.data(),
                     positions.size() * sizeof(int32_t));
  const uint64_t b = static_cast<uint64_t>(n_batch_);
  state_->query_positions = dev.alloc(b * sizeof(int32_t));
  state_->x = dev.alloc(b * hp.n_embd * f);
  state_->norm = dev.alloc(b * hp.n_embd * f);
  state_->q = dev.alloc(b * hp.n_head * hp.head_dim * f);
  state_->attn = dev.alloc(b * hp.n_head * hp.head_dim * f);
  state_->proj = dev.alloc(b * hp.n_embd * f);
  state_->gate = dev.alloc(b * hp.n_ff * f);
  state_->up = dev.alloc(b * hp.n_ff * f);
  state_->logits = dev.alloc(b * hp.n_vocab * f);
}

Session::~Session() = default;

void Session::truncate(int64_t n) {
  if (n < 0 || n > n_past())
    throw Error("cannot truncate a context of " + std::to_string(n_past()) + " tokens to " +
                std::to_string(n));
  history_.resize(static_cast<size_t>(n));
}

std::vector<float> Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  const ModelHyperparams& hp = model_->hparams();
  if (tokens.empty()) throw Error("decode() needs at least one token");
  if (n_past() + static_cast<int64_t>(tokens.size()) > n_ctx_)
    throw Error("the context holds " + std::to_string(n_ctx_) + " tokens: " +
                std::to_string(n_past()) + " are used and " + std::to_string(tokens.size()) +
                " more do not fit; use a larger context (-c) or a shorter prompt");
  for (int32_t t : tokens)
    if (t < 0 || t >= hp.n_vocab)
      throw Error("token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                  std::to_string(hp.n_vocab - 1) + ")");

  const auto& w = model_->weights();
  BackendDevice& dev = model_->device();
  auto& s = *state_;
  const int64_t n_embd = hp.n_embd, head_dim = hp.head_dim;
  const int64_t q_dim = hp.n_head * head_dim, kv_dim = hp.n_head_kv * head_dim;
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const hearth_tensor* freq_factors = w.rope_freqs ? &w.rope_freqs.t : nullptr;

  std::vector<float> out;
  out.reserve(all_logits ? tokens.size() * hp.n_vocab : hp.n_vocab);
  const int64_t embd_row_bytes = w.token_embd->nbytes / hp.n_vocab;
  std::vector<float> embd_host;
  std::vector<int32_t> positions;

  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
    const int64_t n = std::min<int64_t>(n_batch_, static_cast<int64_t>(tokens.size() - start));
    const int64_t p0 = n_past();
    const int64_t n_kv = p0 + n;

    // Token embeddings are looked up on the host, where any stored type can be dequantized.
    embd_host.resize(static_cast<size_t>(n * n_embd));
    for (int64_t i = 0; i < n; ++i) {
      const auto* row = w.token_embd->data + tokens[start + i] * embd_row_bytes;
      float* dst = embd_host.data() + i * n_embd;
      if (w.token_embd_format)
        w.token_embd_format->dequantize(w.token_embd->type, row, dst, n_embd);
      else
        std::memcpy(dst, row, static_cast<size_t>(n_embd) * sizeof(float));
    }
    dev.copy_to_device(s.x.data(), embd_host.data(), embd_host.size() * sizeof(float));
    positions.resize(static_cast<size_t>(n));
    std::iota(positions.begin(), positions.end(), static_cast<int32_t>(p0));
    dev.copy_to_device(s.query_positions.data(), positions.data(), positions.size() * sizeof(int32_t));

    const auto x = make_tensor(s.x.data(), F32, {n_embd, n});
    const auto norm = make_tensor(s.norm.data(), F32, {n_embd, n});
    const auto q = make_tensor(s.q.data(), F32, {head_dim, hp.n_head, n});
    const auto attn = make_tensor(s.attn.data(), F32, {head_dim, hp.n_head, n});
    const auto proj = make_tensor(s.proj.data(), F32, {n_embd, n});
    const auto gate = make_tensor(s.gate.data(), F32, {hp.n_ff, n});
    const auto up = make_tensor(s.up.data(), F32, {hp.n_ff, n});
    const auto pos_q = make_tensor(s.query_positions.data(), HEARTH_DTYPE_I32, {n});
    const auto pos_k = make_tensor(s.key_positions.data(), HEARTH_DTYPE_I32, {n_kv});

    for (int64_t il = 0; il < hp.n_layer; ++il) {
      const auto& l = w.layers[static_cast<size_t>(il)];
      const auto k_all = make_tensor(s.k_cache[il].data(), F32, {head_dim, hp.n_head_kv, n_kv});
      const auto v_all = make_tensor(s.v_cache[il].data(), F32, {head_dim, hp.n_head_kv, n_kv});
      // This batch's keys and values go straight into their cache slots.
      const auto k_new = column_view(k_all, p0, n);
      const auto v_new = column_view(v_all, p0, n);
      const auto k_new_2d = make_tensor(k_new.data, F32, {kv_dim, n});
      const auto v_new_2d = make_tensor(v_new.data, F32, {kv_dim, n});
      const auto q_2d = make_tensor(q.data, F32, {q_dim, n});

      dev.run(detail::op_rms_norm(norm, x, l.attn_norm.t, hp.rms_eps));
      dev.run(detail::op_matmul(q_2d, l.wq.t, norm));
      dev.run(detail::op_matmul(k_new_2d, l.wk.t, norm));
      dev.run(detail::op_matmul(v_new_2d, l.wv.t, norm));
      if (l.bq) dev.run(detail::op_add(q_2d, q_2d, l.bq.t));
      if (l.bk) dev.run(detail::op_add(k_new_2d, k_new_2d, l.bk.t));
      if (l.bv) dev.run(detail::op_add(v_new_2d, v_new_2d, l.bv.t));
      dev.run(detail::op_rope(q, pos_q, freq_factors, static_cast<int>(hp.n_rot), hp.rope_mode,
                              hp.rope_base, hp.rope_scale));
      dev.run(detail::op_rope(k_new, pos_q, freq_factors, static_cast<int>(hp.n_rot),
                              hp.rope_mode, hp.rope_base, hp.rope_scale));
      dev.run(detail::op_attention(attn, q, k_all, v_all, pos_q, pos_k, attn_scale));
      dev.run(detail::op_matmul(proj, l.wo.t, make_tensor(attn.data, F32, {q_dim, n})));
      dev.run(detail::op_add(x, x, proj));

      dev.run(detail::op_rms_norm(norm, x, l.ffn_norm.t, hp.rms_eps));
      dev.run(detail::op_matmul(gate, l.gate.t, norm));
      dev.run(detail::op_matmul(up, l.up.t, norm));
      dev.run(detail::op_swiglu(gate, gate, up));
      dev.run(detail::op_matmul(proj, l.down.t, gate));
      dev.run(detail::op_add(x, x, proj));
    }

    const bool last_batch = start + static_cast<size_t>(n) >= tokens.size();
    if (all_logits || last_batch) {
      const int64_t first = all_logits ? 0 : n - 1;
      const int64_t count = n - first;
      const auto x_out = column_view(x, first, count);
      const auto norm_out = make_tensor(s.norm.data(), F32, {n_embd, count});
      const auto logits = make_tensor(s.logits.data(), F32, {hp.n_vocab, count});
      dev.run(detail::op_rms_norm(norm_out, x_out, w.output_norm.t, hp.rms_eps));
      dev.run(detail::op_matmul(logits, w.output.t, norm_out));
      const size_t old = out.size();
      out.resize(old + static_cast<size_t>(count * hp.n_vocab));
      dev.copy_to_host(out.data() + old, s.logits.data(), static_cast<uint64_t>(count * hp.n_vocab) * sizeof(float));
    }
    dev.synchronize();
    history_.insert(history_.end(), tokens.begin() + static_cast<std::ptrdiff_t>(start),
                    tokens.begin() + static_cast<std::ptrdiff_t>(start + n));
  }
  return out;
}

}  // namespace hearth

#include "model/batch_forward.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "model/kv_slot_cache.hpp"
#include "model/tensor_ops.hpp"
#include "model/weights.hpp"

namespace hearth::detail {
namespace {

constexpr hearth_dtype F32 = HEARTH_DTYPE_F32;
constexpr hearth_dtype F16 = HEARTH_DTYPE_F16;
constexpr hearth_dtype I32 = HEARTH_DTYPE_I32;

hearth_op op_copy(hearth_tensor dst, hearth_tensor src) {
  hearth_op op{};
  op.struct_size = sizeof(op);
  op.kind = HEARTH_OP_COPY;
  op.dst = dst;
  op.src[0] = src;
  op.n_src = 1;
  return op;
}

// Token embeddings are looked up on the host, where any stored type can be dequantized.
void embed(const Model& model, std::span<const ForwardSequence> sequences,
           std::vector<float>& out) {
  const auto& w = model.weights();
  const int64_t n_embd = model.hparams().n_embd;
  const int64_t row_bytes = w.token_embd->nbytes / model.hparams().n_vocab;
  float* dst = out.data();
  for (const auto& s : sequences)
    for (int32_t token : s.tokens) {
      const auto* row = w.token_embd->data + token * row_bytes;
      if (w.token_embd_format)
        w.token_embd_format->dequantize(w.token_embd->type, row, dst, n_embd);
      else
        std::memcpy(dst, row, static_cast<size_t>(n_embd) * sizeof(float));
      dst += n_embd;
    }
}

// Attention for one sequence whose cache a policy manages: the new keys and values go into its
// slots, ATTENTION_SLOTS runs over them and reports each slot's attention mass, and the policy
// then evicts or demotes. The slots and the mass live in host memory (KvSlotCache); abi.h lets
// the table, records and mass of this op be host memory for any backend.
void attend_slots(BackendDevice& dev, KvSlotCache& cache, int64_t il, const hearth_tensor& attn,
                  const hearth_tensor& q, const hearth_tensor& k, const hearth_tensor& v,
                  std::span<const int32_t> positions, const hearth_tensor& pos_q, float scale) {
  const int64_t kv_dim = k.ne[0], count = k.ne[1];
  std::vector<float> k_host(static_cast<size_t>(kv_dim * count));
  std::vector<float> v_host(k_host.size());
  for (int64_t j = 0; j < count; ++j) {
    dev.copy_to_host(k_host.data() + j * kv_dim, static_cast<const char*>(k.data) + j * k.nb[1],
                     static_cast<uint64_t>(kv_dim) * sizeof(float));
    dev.copy_to_host(v_host.data() + j * kv_dim, static_cast<const char*>(v.data) + j * v.nb[1],
                     static_cast<uint64_t>(kv_dim) * sizeof(float));
  }
  cache.append(il, k_host.data(), v_host.data(), positions);

  const auto table = cache.table(il);
  const int64_t n_head_kv = static_cast<int64_t>(table.size());
  const int64_t stride = std::max<int64_t>(1, cache.max_slots(il));
  std::vector<float> mass(static_cast<size_t>(stride * n_head_kv * count));
  hearth_op op{};
  op.struct_size = sizeof(op);
  op.kind = HEARTH_OP_ATTENTION_SLOTS;
  op.dst = attn;
  op.src[0] = q;
  op.src[1] = make_tensor(table.data(), HEARTH_DTYPE_I8, {n_head_kv});
  op.src[2] = pos_q;
  op.src[3] = make_tensor(mass.data(), F32, {stride, n_head_kv, count});
  op.n_src = 4;
  op.iparams[0] = static_cast<int32_t>(cache.shape().group_size);
  op.fparams[0] = scale;
  dev.run(op);
  dev.synchronize();
  cache.update(il, mass.data(), stride, positions);
}

}  // namespace

hearth_dtype kv_cache_dtype(const Model& model, KvType requested) {
  if (requested == KvType::f32) return F32;
  const ModelHyperparams& hp = model.hparams();
  const int64_t kv_dim = hp.n_head_kv * hp.head_dim;
  const auto q = make_tensor(nullptr, F32, {hp.head_dim, hp.n_head, 1});
  const auto kv = make_tensor(nullptr, F16, {hp.head_dim, hp.n_head_kv, 1});
  const auto pos = make_tensor(nullptr, I32, {1});
  for (size_t d = 0; d < model.device_count(); ++d) {
    BackendDevice& dev = model.device_at(d);
    const bool attends = !dev.unsupported_reason(op_attention(q, q, kv, kv, pos, pos, 1.0f));
    const bool stores = !dev.unsupported_reason(
        op_copy(make_tensor(nullptr, F16, {kv_dim, 1}), make_tensor(nullptr, F32, {kv_dim, 1})));
    if (!attends || !stores) return F32;
  }
  return F16;
}

KvCache::KvCache(const Model& model, int64_t n_ctx_, hearth_dtype dtype_)
    : n_ctx(n_ctx_), dtype(dtype_) {
  const ModelHyperparams& hp = model.hparams();
  const uint64_t element_bytes = dtype == F16 ? 2 : sizeof(float);
  const uint64_t kv_bytes =
      static_cast<uint64_t>(hp.n_head_kv * hp.head_dim * n_ctx) * element_bytes;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    BackendDevice& dev = model.device_at(model.device_index_of_layer(il));
    k.push_back(dev.alloc(kv_bytes));
    v.push_back(dev.alloc(kv_bytes));
  }
  std::vector<int32_t> slots(static_cast<size_t>(n_ctx));
  std::iota(slots.begin(), slots.end(), 0);
  for (size_t d = 0; d < model.device_count(); ++d) {
    BackendDevice& dev = model.device_at(d);
    key_positions.push_back(dev.alloc(slots.size() * sizeof(int32_t)));
    dev.copy_to_device(key_positions.back().data(), slots.data(), slots.size() * sizeof(int32_t));
  }
}

ForwardWorkspace::ForwardWorkspace(const Model& model, int64_t max_tokens_, int64_t max_logit_rows_)
    : max_tokens(max_tokens_), max_logit_rows(max_logit_rows_) {
  const ModelHyperparams& hp = model.hparams();
  const uint64_t f = sizeof(float);
  const uint64_t b = static_cast<uint64_t>(max_tokens);
  const uint64_t kv_dim = static_cast<uint64_t>(hp.n_head_kv * hp.head_dim);
  const std::vector<float> zeros(kv_dim, 0.0f);
  for (size_t d = 0; d < model.device_count(); ++d) {
    BackendDevice& dev = model.device_at(d);
    DeviceActivations a;
    a.positions = dev.alloc(b * sizeof(int32_t));
    a.x = dev.alloc(b * hp.n_embd * f);
    a.norm = dev.alloc(b * hp.n_embd * f);
    a.q = dev.alloc(b * hp.n_head * hp.head_dim * f);
    a.k = dev.alloc(b * kv_dim * f);
    a.v = dev.alloc(b * kv_dim * f);
    a.attn = dev.alloc(b * hp.n_head * hp.head_dim * f);
    a.proj = dev.alloc(b * hp.n_embd * f);
    a.gate = dev.alloc(b * hp.n_ff * f);
    a.up = dev.alloc(b * hp.n_ff * f);
    a.zero_kv = dev.alloc(kv_dim * f);
    dev.copy_to_device(a.zero_kv.data(), zeros.data(), kv_dim * f);
    on_device.push_back(std::move(a));
  }
  logits = model.device_at(model.output_device_index())
               .alloc(static_cast<uint64_t>(max_logit_rows) * hp.n_vocab * f);
}

namespace {

// Views of one device's activations for a pass of n tokens.
struct ActivationViews {
  hearth_tensor x, norm, q, k, q_2d, k_2d, v_2d, attn, proj, gate, up, pos_q, zero_kv;
};

ActivationViews views_of(const DeviceActivations& a, const ModelHyperparams& hp, int64_t n) {
  const int64_t head_dim = hp.head_dim;
  const int64_t q_dim = hp.n_head * head_dim, kv_dim = hp.n_head_kv * head_dim;
  ActivationViews v;
  v.x = make_tensor(a.x.data(), F32, {hp.n_embd, n});
  v.norm = make_tensor(a.norm.data(), F32, {hp.n_embd, n});
  v.q = make_tensor(a.q.data(), F32, {head_dim, hp.n_head, n});
  v.k = make_tensor(a.k.data(), F32, {head_dim, hp.n_head_kv, n});
  v.q_2d = make_tensor(a.q.data(), F32, {q_dim, n});
  v.k_2d = make_tensor(a.k.data(), F32, {kv_dim, n});
  v.v_2d = make_tensor(a.v.data(), F32, {kv_dim, n});
  v.attn = make_tensor(a.attn.data(), F32, {head_dim, hp.n_head, n});
  v.proj = make_tensor(a.proj.data(), F32, {hp.n_embd, n});
  v.gate = make_tensor(a.gate.data(), F32, {hp.n_ff, n});
  v.up = make_tensor(a.up.data(), F32, {hp.n_ff, n});
  v.pos_q = make_tensor(a.positions.data(), I32, {n});
  v.zero_kv = make_tensor(a.zero_kv.data(), F32, {kv_dim});
  return v;
}

}  // namespace

void forward(const Model& model, ForwardWorkspace& ws, std::span<const ForwardSequence> sequences) {
  const ModelHyperparams& hp = model.hparams();
  const auto& w = model.weights();
  const int64_t n_embd = hp.n_embd, head_dim = hp.head_dim;
  const int64_t q_dim = hp.n_head * head_dim, kv_dim = hp.n_head_kv * head_dim;
  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  // Where each sequence's tokens start in the batch, and their positions.
  std::vector<int64_t> offsets;
  std::vector<int32_t> positions;
  for (const auto& s : sequences) {
    offsets.push_back(static_cast<int64_t>(positions.size()));
    for (size_t i = 0; i < s.tokens.size(); ++i)
      positions.push_back(static_cast<int32_t>(s.n_past + static_cast<int64_t>(i)));
  }
  const int64_t n = static_cast<int64_t>(positions.size());

  std::vector<ActivationViews> views;
  for (size_t d = 0; d < model.device_count(); ++d) {
    views.push_back(views_of(ws.on_device[d], hp, n));
    model.device_at(d).copy_to_device(ws.on_device[d].positions.data(), positions.data(),
                                      positions.size() * sizeof(int32_t));
  }
  {
    std::vector<float> embd_host(static_cast<size_t>(n * n_embd));
    embed(model, sequences, embd_host);
    const size_t first_device = model.device_index_of_layer(0);
    model.device_at(first_device)
        .copy_to_device(views[first_device].x.data, embd_host.data(),
                        embd_host.size() * sizeof(float));
  }

  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const size_t d = model.device_index_of_layer(il);
    BackendDevice& dev = model.device_at(d);
    if (il > 0 && model.device_index_of_layer(il - 1) != d) {
      // The residual stream crosses to the next device through the host.
      BackendDevice& from = model.device_at(model.device_index_of_layer(il - 1));
      const uint64_t bytes = static_cast<uint64_t>(n * n_embd) * sizeof(float);
      ws.x_host.resize(static_cast<size_t>(n * n_embd));
      from.synchronize();
      from.copy_to_host(ws.x_host.data(), views[model.device_index_of_layer(il - 1)].x.data, bytes);
      dev.copy_to_device(views[d].x.data, ws.x_host.data(), bytes);
    }
    const auto& [x, norm, q, k, q_2d, k_2d, v_2d, attn, proj, gate, up, pos_q, zero_kv] = views[d];
    const hearth_tensor* freq_factors = w.rope_freqs[d] ? &w.rope_freqs[d].t : nullptr;
    const auto& l = w.layers[static_cast<size_t>(il)];
    dev.run(op_rms_norm(norm, x, l.attn_norm.t, hp.rms_eps));
    dev.run(op_matmul(q_2d, l.wq.t, norm));
    dev.run(op_matmul(k_2d, l.wk.t, norm));
    dev.run(op_matmul(v_2d, l.wv.t, norm));
    if (l.bq) dev.run(op_add(q_2d, q_2d, l.bq.t));
    if (l.bk) dev.run(op_add(k_2d, k_2d, l.bk.t));
    if (l.bv) dev.run(op_add(v_2d, v_2d, l.bv.t));
    dev.run(op_rope(q, pos_q, freq_factors, static_cast<int>(hp.n_rot), hp.rope_mode, hp.rope_base,
                    hp.rope_scale));
    dev.run(op_rope(k, pos_q, freq_factors, static_cast<int>(hp.n_rot), hp.rope_mode, hp.rope_base,
                    hp.rope_scale));
    for (size_t si = 0; si < sequences.size(); ++si) {
      const auto& s = sequences[si];
      const int64_t first = offsets[si], count = static_cast<int64_t>(s.tokens.size());
      if (s.slots) {
        attend_slots(dev, *s.slots, il, column_view(attn, first, count),
                     column_view(q, first, count), column_view(k_2d, first, count),
                     column_view(v_2d, first, count),
                     std::span(positions).subspan(static_cast<size_t>(first),
                                                   static_cast<size_t>(count)),
                     column_view(pos_q, first, count), attn_scale);
        continue;
      }
      const int64_t n_kv = s.n_past + count;
      const hearth_dtype kv_type = s.cache->dtype;
      const auto k_all =
          make_tensor(s.cache->k[il].data(), kv_type, {head_dim, hp.n_head_kv, n_kv});
      const auto v_all =
          make_tensor(s.cache->v[il].data(), kv_type, {head_dim, hp.n_head_kv, n_kv});
      const auto k_slots =
          column_view(make_tensor(k_all.data, kv_type, {kv_dim, n_kv}), s.n_past, count);
      const auto v_slots =
          column_view(make_tensor(v_all.data, kv_type, {kv_dim, n_kv}), s.n_past, count);
      if (kv_type == F16) {
        dev.run(op_copy(k_slots, column_view(k_2d, first, count)));
        dev.run(op_copy(v_slots, column_view(v_2d, first, count)));
      } else {
        // Adding zeros (exact) also works on backends without COPY, which keep an F32 cache.
        dev.run(op_add(k_slots, column_view(k_2d, first, count), zero_kv));
        dev.run(op_add(v_slots, column_view(v_2d, first, count), zero_kv));
      }
      const auto pos_k = make_tensor(s.cache->key_positions[d].data(), I32, {n_kv});
      dev.run(op_attention(column_view(attn, first, count), column_view(q, first, count), k_all,
                           v_all, column_view(pos_q, first, count), pos_k, attn_scale));
    }
    dev.run(op_matmul(proj, l.wo.t, make_tensor(attn.data, F32, {q_dim, n})));
    dev.run(op_add(x, x, proj));

    dev.run(op_rms_norm(norm, x, l.ffn_norm.t, hp.rms_eps));
    dev.run(op_matmul(gate, l.gate.t, norm));
    dev.run(op_matmul(up, l.up.t, norm));
    dev.run(op_swiglu(gate, gate, up));
    dev.run(op_matmul(proj, l.down.t, gate));
    dev.run(op_add(x, x, proj));
  }

  // Only the columns that want logits go through the output norm, packed side by side so one
  // matmul makes all their logits. The last layer's device holds the output head.
  const size_t out_d = model.output_device_index();
  BackendDevice& dev = model.device_at(out_d);
  const hearth_tensor& x = views[out_d].x;
  const hearth_tensor& norm = views[out_d].norm;
  auto logit_rows = [](const ForwardSequence& s) -> int64_t {
    if (!s.logits_out) return 0;
    return s.all_logits ? static_cast<int64_t>(s.tokens.size()) : 1;
  };
  int64_t rows = 0;
  for (size_t si = 0; si < sequences.size(); ++si) {
    const auto& s = sequences[si];
    const int64_t count = logit_rows(s);
    if (count == 0) continue;
    const int64_t first = offsets[si] + static_cast<int64_t>(s.tokens.size()) - count;
    dev.run(op_rms_norm(column_view(norm, rows, count), column_view(x, first, count),
                        w.output_norm.t, hp.rms_eps));
    rows += count;
  }
  if (rows > 0) {
    const auto logits = make_tensor(ws.logits.data(), F32, {hp.n_vocab, rows});
    dev.run(op_matmul(logits, w.output.t, make_tensor(norm.data, F32, {n_embd, rows})));
  }
  int64_t row = 0;
  for (const auto& s : sequences) {
    const int64_t count = logit_rows(s);
    if (count == 0) continue;
    const uint64_t bytes = static_cast<uint64_t>(count * hp.n_vocab) * sizeof(float);
    dev.copy_to_host(s.logits_out, static_cast<const float*>(ws.logits.data()) + row * hp.n_vocab,
                     bytes);
    row += count;
  }
  dev.synchronize();
}

}  // namespace hearth::detail

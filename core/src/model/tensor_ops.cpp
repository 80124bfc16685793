#include "model/tensor_ops.hpp"

#include <hearth/gguf.hpp>

namespace hearth::detail {

int64_t row_size(hearth_dtype dtype, int64_t n) {
  auto layout = gguf_builtin_type_layout(dtype);
  if (!layout || layout->block_elems == 0) return 0;
  return n / layout->block_elems * layout->block_bytes;
}

hearth_tensor make_tensor(const void* data, hearth_dtype dtype, std::initializer_list<int64_t> ne,
                          int64_t row_bytes) {
  hearth_tensor t{};
  t.data = const_cast<void*>(data);
  t.dtype = dtype;
  t.n_dims = static_cast<uint32_t>(ne.size());
  for (int i = 0; i < HEARTH_MAX_DIMS; ++i) t.ne[i] = 1;
  int i = 0;
  for (int64_t n : ne) t.ne[i++] = n;
  const int64_t row = row_bytes ? row_bytes : row_size(dtype, t.ne[0]);
  auto layout = gguf_builtin_type_layout(dtype);
  t.nb[0] = layout && layout->block_elems == 1 ? layout->block_bytes : row;
  t.nb[1] = row;
  for (int d = 2; d < HEARTH_MAX_DIMS; ++d) t.nb[d] = t.nb[d - 1] * t.ne[d - 1];
  return t;
}

hearth_tensor column_view(const hearth_tensor& t, int64_t first, int64_t count) {
  hearth_tensor v = t;
  const int last = t.n_dims > 0 ? static_cast<int>(t.n_dims) - 1 : 0;
  v.data = static_cast<char*>(t.data) + first * t.nb[last];
  v.ne[last] = count;
  return v;
}

namespace {
hearth_op make_op(hearth_op_kind kind, hearth_tensor dst, std::initializer_list<hearth_tensor> src) {
  hearth_op op{};
  op.struct_size = sizeof(op);
  op.kind = kind;
  op.dst = dst;
  for (const auto& s : src) op.src[op.n_src++] = s;
  return op;
}
}  // namespace

hearth_op op_embedding(hearth_tensor dst, hearth_tensor table, hearth_tensor ids) {
  return make_op(HEARTH_OP_EMBEDDING, dst, {table, ids});
}

hearth_op op_rms_norm(hearth_tensor dst, hearth_tensor x, hearth_tensor weight, float eps) {
  auto op = make_op(HEARTH_OP_RMS_NORM, dst, {x, weight});
  op.fparams[0] = eps;
  return op;
}

hearth_op op_matmul(hearth_tensor dst, hearth_tensor weight, hearth_tensor x) {
  return make_op(HEARTH_OP_MATMUL, dst, {weight, x});
}

hearth_op op_rope(hearth_tensor x, hearth_tensor positions, const hearth_tensor* freq_factors,
                  int n_rot, int mode, float base, float scale) {
  auto op = freq_factors ? make_op(HEARTH_OP_ROPE, x, {x, positions, *freq_factors})
                         : make_op(HEARTH_OP_ROPE, x, {x, positions});
  op.iparams[0] = n_rot;
  op.iparams[1] = mode;
  op.fparams[0] = base;
  op.fparams[1] = scale;
  return op;
}

hearth_op op_attention(hearth_tensor dst, hearth_tensor q, hearth_tensor k, hearth_tensor v,
                       hearth_tensor pos_q, hearth_tensor pos_k, float scale) {
  auto op = make_op(HEARTH_OP_ATTENTION, dst, {q, k, v, pos_q, pos_k});
  op.fparams[0] = scale;
  return op;
}

hearth_op op_swiglu(hearth_tensor dst, hearth_tensor gate, hearth_tensor up) {
  return make_op(HEARTH_OP_SWIGLU, dst, {gate, up});
}

hearth_op op_add(hearth_tensor dst, hearth_tensor a, hearth_tensor b) {
  return make_op(HEARTH_OP_ADD, dst, {a, b});
}

}  // namespace hearth::detail

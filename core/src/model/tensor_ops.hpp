// Building hearth_tensor views and hearth_op descriptions for the forward pass. Only shapes
// and pointers: nothing here touches memory.
#pragma once

#include <hearth/sdk/abi.h>

#include <array>
#include <cstdint>
#include <initializer_list>

namespace hearth::detail {

// A contiguous tensor of dtype with the given dims (ne[0] innermost); row_bytes overrides the
// byte size of one ne[0] row (needed for block formats the core has no layout for).
hearth_tensor make_tensor(const void* data, hearth_dtype dtype, std::initializer_list<int64_t> ne,
                          int64_t row_bytes = 0);
// Byte size of one row of n elements of dtype (block formats: whole blocks); 0 if unknown.
int64_t row_size(hearth_dtype dtype, int64_t n);
// The columns [first, first + count) of a 2-D (or [.., .., cols] 3-D) tensor, as a view.
hearth_tensor column_view(const hearth_tensor& t, int64_t first, int64_t count);

hearth_op op_embedding(hearth_tensor dst, hearth_tensor table, hearth_tensor ids);
hearth_op op_rms_norm(hearth_tensor dst, hearth_tensor x, hearth_tensor weight, float eps);
hearth_op op_matmul(hearth_tensor dst, hearth_tensor weight, hearth_tensor x);
hearth_op op_rope(hearth_tensor x, hearth_tensor positions, const hearth_tensor* freq_factors,
                  int n_rot, int mode, float base, float scale);
hearth_op op_attention(hearth_tensor dst, hearth_tensor q, hearth_tensor k, hearth_tensor v,
                       hearth_tensor pos_q, hearth_tensor pos_k, float scale);
hearth_op op_swiglu(hearth_tensor dst, hearth_tensor gate, hearth_tensor up);
hearth_op op_add(hearth_tensor dst, hearth_tensor a, hearth_tensor b);

}  // namespace hearth::detail

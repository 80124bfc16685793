// Kernel launchers, one per op family. Each takes an op that op_validation accepted (shapes fit,
// dtypes known, pointers non-null) and queues its work on stream; the return value is the launch
// error (cudaSuccess when queued).
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_runtime.hpp"
#include "quantized_input.hpp"

namespace hearth::backend_gpu {

cudaError_t launch_embedding(const hearth_op& op, cudaStream_t stream);
cudaError_t launch_rms_norm(const hearth_op& op, cudaStream_t stream);
// Scratch bytes launch_matmul's decode GEMV wants for op's quantized activations (0: none).
// Given less (or a null scratch) it takes a route that needs none.
uint64_t matmul_scratch_bytes(const hearth_op& op);
// How that scratch rounds op's activations (meaningful when matmul_scratch_bytes(op) > 0).
ActivationRounding matmul_activation_rounding(const hearth_op& op);
// scratch_ready: the scratch already holds op's activations, quantized by the previous MATMUL
// (q, k and v read the same normalized row), so they are not quantized again.
cudaError_t launch_matmul(const hearth_op& op, void* scratch, uint64_t scratch_bytes,
                          cudaStream_t stream, bool scratch_ready = false);
cudaError_t launch_rope(const hearth_op& op, cudaStream_t stream);
// Key ranges ATTENTION splits into on a device of sm_count SMs (1: no split), and the scratch
// bytes those ranges' partial results take; launch_attention merges them (no scratch: no split).
int64_t attention_splits(const hearth_op& op, int sm_count);
uint64_t attention_scratch_bytes(const hearth_op& op, int64_t n_splits);
cudaError_t launch_attention(const hearth_op& op, int64_t n_splits, float* scratch,
                             cudaStream_t stream);
// The F16-cache kernels launch_attention hands F16 k/v to (kernels_attention_f16.cu): their
// scratch holds the scores (needed even unsplit beyond 256 keys) and, split, the chunk sums.
int64_t attention_f16_splits(const hearth_op& op, int sm_count);
uint64_t attention_f16_scratch_bytes(const hearth_op& op, int64_t n_splits);
cudaError_t launch_attention_f16(const hearth_op& op, int64_t n_splits, void* scratch,
                                 cudaStream_t stream);
// COPY: F32, F16 and BF16 to each other, rounding to nearest even, any strides.
cudaError_t launch_copy(const hearth_op& op, cudaStream_t stream);
// SWIGLU, ADD and MUL.
cudaError_t launch_elementwise(const hearth_op& op, cudaStream_t stream);
cudaError_t launch_softmax(const hearth_op& op, cudaStream_t stream);

// The largest head_dim launch_attention handles (values per lane times 32 lanes).
inline constexpr int64_t kMaxAttentionHeadDim = 256;

}  // namespace hearth::backend_gpu

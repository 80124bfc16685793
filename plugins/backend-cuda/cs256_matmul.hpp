// MATMUL with a CS256 weight (src[0] dtype HEARTH_DTYPE_CS256: data = the whole blob on the
// device, ne = [n_in, n_out], nb[] unused; F32 activations and dst). kernels_matmul.cu hands
// such ops here; tools/cs256_bench.cu calls the variants directly.
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// Kernel shapes. A row's tiles are split over `lanes` threads (split-K), the input slice of
// those tiles sits in shared memory, and the lanes' partial sums are reduced by shuffles.
enum class Cs256Kernel {
  kSpmvQuad,   // 1 token, 4 lanes per row, 64 rows per block: the paper's App. A.1 layout
  kSpmvWide,   // 1 token, 16 lanes per row, 16 rows per block: 4096 inputs in one pass
  kSpmm8Quad,  // up to 8 tokens per pass share each decoded entry, 4 lanes per row
};

// The kernel launch_cs256_matmul picks for n_tok tokens and n_in inputs.
Cs256Kernel choose_cs256_kernel(int64_t n_tok, int64_t n_in);

// Queues the product on stream; returns the launch error. cudaErrorInvalidValue when the blob
// pointer is not 16-byte aligned (the vector loads need it). A blob whose header disagrees with
// the tensor's shape or is out of range gives NaN outputs (the kernels check it on the device).
cudaError_t launch_cs256_matmul(const hearth_op& op, cudaStream_t stream);
cudaError_t launch_cs256_matmul_with(Cs256Kernel kernel, const hearth_op& op, cudaStream_t stream);

}  // namespace hearth::backend_gpu

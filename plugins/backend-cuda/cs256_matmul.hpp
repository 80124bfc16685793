// MATMUL with a CS256 weight (src[0] dtype HEARTH_DTYPE_CS256: data = the whole blob on the
// device, ne = [n_in, n_out], nb[] unused; F32 activations and dst). kernels_matmul.cu hands
// such ops here; tools/cs256_bench.cu calls the variants directly.
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// Kernel shapes. The tile-split kernels deal a row's tiles to `lanes` threads (split-K), stage
// the input slice of those tiles in shared memory chunk by chunk, and reduce the lanes' partial
// sums by shuffles. The warp-row kernels give one row to one warp of 32 lanes that stream the
// row's entries together (coalesced 16-byte value and 8-byte index loads, each lane finding its
// entries' tile by a shuffle search over the row's tile ends), with the whole input row staged
// in shared memory once per block.
enum class Cs256Kernel {
  kSpmvQuad,          // tile-split, 4 lanes per row, 64 rows per block: the paper's App. A.1
  kSpmvWide,          // tile-split, 16 lanes per row, 16 rows per block
  kSpmm8Quad,         // tile-split, up to 8 tokens per pass share each decoded entry, 4 lanes
  kSpmvWarp,          // warp-row, 16 warps per block, 4 loads in flight per lane, a row per warp
  kSpmvWarpLight,     // warp-row, 2 loads in flight per lane and fewer registers (occupancy)
  kSpmvWarpResident,  // warp-row, one wave of resident blocks walking the rows (grid stride)
  kSpmmWarp2,         // warp-row, resident, 2 tokens per pass share each decoded entry
  kSpmmWarp4,         // warp-row, resident, 4 tokens per pass
  kSpmmWarp8,         // warp-row, resident, 8 tokens per pass
};

// Whether kernel can run a product with n_in inputs. The warp-row kernels stage all n_in inputs
// of their tokens in shared memory and take at most 64 tiles: 1 token n_in <= 12288 (48 KiB),
// NT tokens NT * n_in * 4 bytes <= 227 KiB (CUDA) or 64 KiB (HIP). Every kernel takes any
// token count (narrower kernels run the tokens NT at a time).
bool cs256_kernel_takes(Cs256Kernel kernel, int64_t n_in);

// The kernel launch_cs256_matmul picks for n_tok tokens and n_in inputs.
Cs256Kernel choose_cs256_kernel(int64_t n_tok, int64_t n_in);

// Queues the product on stream; returns the launch error. cudaErrorInvalidValue when the blob
// pointer is not 16-byte aligned (the vector loads need it) or the kernel does not take n_in. A
// blob whose header disagrees with the tensor's shape or is out of range gives NaN outputs (the
// kernels check it on the device).
cudaError_t launch_cs256_matmul(const hearth_op& op, cudaStream_t stream);
cudaError_t launch_cs256_matmul_with(Cs256Kernel kernel, const hearth_op& op, cudaStream_t stream);

}  // namespace hearth::backend_gpu

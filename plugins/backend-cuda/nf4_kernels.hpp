// NF4 kernel launchers: MATMUL with NF4 weights (fused dequant + GEMV, nf4_matmul.cu) and
// standalone dequantization to F16/BF16 (nf4_dequantize.cu) for Hearth's 36-byte blocks and for
// bitsandbytes' own layout. Each returns the launch error (cudaSuccess when queued).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// op is a MATMUL that op_validation accepted with src[0].dtype == HEARTH_DTYPE_NF4. Decode-sized
// token counts (1..8) run as one pass over the weight; more tokens run the same kernel over
// tiles of 8 tokens (tiles of the same rows run together, so they mostly re-read them from L2).
cudaError_t launch_nf4_matmul(const hearth_op& op, cudaStream_t stream);

enum class Nf4OutType { F16, BF16 };

// n_blocks Hearth NF4 blocks (4-byte aligned) -> 64 * n_blocks halves at out (16-byte aligned).
cudaError_t launch_nf4_dequantize(const void* blocks, int64_t n_blocks, void* out, Nf4OutType type,
                                  cudaStream_t stream);

// bitsandbytes' layout with double quantization (shared/specs/nf4.md §2-§3), blocksize 64.
struct Nf4BnbWeight {
  const uint8_t* codes;    // n / 2 packed bytes, 4-byte aligned
  const uint8_t* qabsmax;  // n / 64 codes into code2
  const float* code2;      // the 256-entry dynamic map
  const float* absmax2;    // one per 256 blocks
  float offset;
};
// n (a multiple of 64) weights -> n halves at out (16-byte aligned).
cudaError_t launch_nf4_bnb_dequantize(const Nf4BnbWeight& w, int64_t n, void* out, Nf4OutType type,
                                      cudaStream_t stream);

}  // namespace hearth::backend_gpu

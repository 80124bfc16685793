// CS256 weight -> dense half-precision rows (cs256_dequantize.cu): the cuBLAS prefill route's
// decoder for CS256 (dequantize_f16.cu calls it; tools/cs256_bench.cu checks it bit for bit
// against the CPU reference of plugins/format-cs256).
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

enum class Cs256DenseType { f16, bf16 };

// Writes W (w: dtype CS256, ne = [n_in, n_out], data = the blob on the device) into out as
// n_out contiguous rows of n_in elements of type: zeros where no entry is stored, else the
// entry's value (I8: value * the row's scale, in F32) rounded to type (round to nearest even).
// Zero-valued entries (the encoder's padding, which may repeat a column) write nothing. A header
// that disagrees with the shape fills out with NaN, as the MATMUL kernels give NaN rows; entry
// ranges are clamped to the blob and columns to n_in, so a blob that skipped validation cannot
// make it read or write out of bounds. cudaErrorInvalidValue when the blob is not 16-byte
// aligned (as launch_cs256_matmul) or out not 2-byte aligned; otherwise the launch error.
cudaError_t launch_cs256_dequantize(const hearth_tensor& w, void* out, Cs256DenseType type,
                                    cudaStream_t stream);

}  // namespace hearth::backend_gpu

// Kernels that feed the cuBLAS prefill route (cublas_matmul.cpp): a MATMUL weight decoded to a
// dense half-precision matrix, and activations rounded to the GEMM's input type. Both write
// contiguous rows ([rows][ne0]) into device scratch that the caller sized.
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// The element type cuBLAS reads: F16 (quantized and F16 weights), BF16 (BF16 weights; F16 would
// overflow their range), F32 (F32 weights, computed in plain FP32).
enum class GemmElement { f16, bf16, f32 };

// Decodes every row of weight w (any type dequant.cuh reads, NF4, CS256) into out as
// GemmElement::f16 or ::bf16 values, row r at out + r * w.ne[0]. Returns the launch error.
cudaError_t launch_dequantize_weight(const hearth_tensor& w, void* out, GemmElement type,
                                     cudaStream_t stream);

// Writes the rows of F32 activations x (flat row order, any strides) contiguously into out,
// rounded to type (round-to-nearest-even). Returns the launch error.
cudaError_t launch_convert_activations(const hearth_tensor& x, void* out, GemmElement type,
                                       cudaStream_t stream);

}  // namespace hearth::backend_gpu

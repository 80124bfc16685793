// MATMUL of 1-8 tokens with NF4 weights on sm_90 (CUDA only; nf4_gemv_tma.cu says how).
#pragma once

#include <hearth/sdk/abi.h>

#include <optional>

#include "gpu_runtime.hpp"

namespace hearth::backend_gpu {

// Lets the kernels use the device's opt-in shared memory; call once per device (the current one)
// before any launch on it. cudaSuccess also where the path does not apply.
cudaError_t prepare_nf4_gemv_tma();

// op is a MATMUL that op_validation accepted with src[0].dtype == HEARTH_DTYPE_NF4. Launches the
// Hopper GEMV and returns the launch error when the op is one it takes: 1-8 tokens, n_in a
// multiple of 256, a 2-D weight with whole contiguous 16-byte aligned rows, contiguous 16-byte
// aligned activations, a contiguous output, an sm_90 device, a plugin built for sm_90 or later
// (HEARTH_CUDA_ARCHITECTURES) and prepare_nf4_gemv_tma() called for the device. Returns nullopt
// otherwise, and when the launch is refused for want of shared memory (the caller then runs the
// portable kernels of nf4_matmul.cu).
std::optional<cudaError_t> try_launch_nf4_gemv_tma(const hearth_op& op, cudaStream_t stream);

}  // namespace hearth::backend_gpu

// MATMUL with a CS256 weight (src[0] dtype HEARTH_DTYPE_CS256: data = the blob, ne = [n_in,
// n_out], nb[] unused). The hooks op_validation.cpp and kernel_matmul.cpp call.
#pragma once

#include <hearth/sdk/abi.h>

#include <optional>
#include <string>

#include "f32_gemm.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {

// Why this CS256 MATMUL cannot run here, or nullopt; throws sdk::PluginError for malformed ops.
// Only shapes and dtypes (data may be null when core probes support).
std::optional<std::string> check_cs256_matmul(const hearth_op& op);

// Checks the blob's header against the weight's shape and its row pointers and increments
// (O(rows * tiles), cheap next to the product), then multiplies: prompts of kCs256GemmTokens
// (AVX-512) or kExpandedGemmTokens or more through gemm (when there is one) on slices of rows
// expanded to dense F32; fewer tokens with the sparse kernels, on activations padded with zeros to
// whole tiles so no index can read outside them. Throws sdk::PluginError on a bad blob.
void run_cs256_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm);

// Where the F16-activation kernels run (AVX-512), they beat the expanded GEMM up to about 128
// tokens (TinyLlama shape at 66 %, Zen 4, 2 threads: pp64 47.8 t/s against 33.7, pp128 49.4
// against 51.2, pp256 47.4 against 67.6); elsewhere the F32 kernels lose from 64 on
// (expanded_gemm.hpp).
inline constexpr int64_t kCs256GemmTokens = 128;

}  // namespace hearth::backend_cpu

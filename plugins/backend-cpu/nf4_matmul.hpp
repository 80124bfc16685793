// MATMUL with an NF4 weight (nf4_kernels.hpp), F32 activations.
#pragma once

#include <hearth/sdk/abi.h>

namespace hearth::backend_cpu {

class ThreadPool;
class F32Gemm;

// One token: the fused GEMV (each row's codes are looked up and multiplied in registers).
// Several tokens: each thread expands a tile of rows into its own small buffer (never the whole
// matrix) and dots every row of the tile with every token, so each weight byte is decoded once;
// prompts of kExpandedGemmTokens or more multiply the expanded rows with gemm when there is one.
void run_nf4_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm);

}  // namespace hearth::backend_cpu

// The CPU backend's op kernels. Each takes an op that check_op() and check_op_data() accepted.
// Numerics follow ggml's CPU reference where llama.cpp's results depend on them (see README.md).
#pragma once

#include <hearth/sdk/abi.h>

namespace hearth::backend_cpu {

class ThreadPool;
class F32Gemm;

void run_embedding(const hearth_op& op, ThreadPool& pool);
void run_rms_norm(const hearth_op& op, ThreadPool& pool);
// gemm (may be null) takes F32 weights with several tokens; the plain loop does everything else.
void run_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm);
void run_rope(const hearth_op& op, ThreadPool& pool);
void run_attention(const hearth_op& op, ThreadPool& pool);
void run_swiglu(const hearth_op& op, ThreadPool& pool);
// ADD or MUL, with src[1] broadcast over every dim where its ne is 1.
void run_binary(const hearth_op& op, ThreadPool& pool);
void run_softmax(const hearth_op& op, ThreadPool& pool);

}  // namespace hearth::backend_cpu

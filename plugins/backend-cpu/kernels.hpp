// The CPU backend's op kernels. Each takes an op that check_op() and check_op_data() accepted.
// Numerics follow ggml's CPU reference where llama.cpp's results depend on them (see README.md).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "interleaved_rows.hpp"

namespace hearth::backend_cpu {

class ThreadPool;
class F32Gemm;
struct InterleavedMatrix;

// Quantized activation columns of MATMUL, owned by the device and reused across ops (it only
// grows). The mutex is held for the whole matmul: host threads sharing a device take turns.
struct MatmulScratch {
  std::mutex mutex;
  std::vector<uint64_t> words;                  // 8-byte aligned, enough for Q8_K's float scale
  std::vector<ActivationBlockInfo> block_info;  // for interleaved weights
};

void run_embedding(const hearth_op& op, ThreadPool& pool);
void run_rms_norm(const hearth_op& op, ThreadPool& pool);
// Quantized weights quantize the activations into scratch first (as ggml does); gemm (may be
// null) takes F32 weights with several tokens; the plain loops do everything else.
// interleaved (may be null) is src[0]'s first rows in the interleaved layout.
void run_matmul(const hearth_op& op, ThreadPool& pool, F32Gemm* gemm, MatmulScratch& scratch,
                const InterleavedMatrix* interleaved = nullptr);
void run_rope(const hearth_op& op, ThreadPool& pool);
void run_attention(const hearth_op& op, ThreadPool& pool);
// ATTENTION over per-KV-head slots of mixed precision; also writes the attention mass if asked.
void run_attention_slots(const hearth_op& op, ThreadPool& pool);
void run_swiglu(const hearth_op& op, ThreadPool& pool);
// ADD or MUL, with src[1] broadcast over every dim where its ne is 1.
void run_binary(const hearth_op& op, ThreadPool& pool);
void run_softmax(const hearth_op& op, ThreadPool& pool);
// dst = src[0] converted between F32, F16 and BF16 (round to nearest even when narrowing).
void run_copy(const hearth_op& op, ThreadPool& pool);

}  // namespace hearth::backend_cpu

// Prompts for weights the F32 GEMM cannot read directly (F16, BF16, NF4, CS256): rows expanded
// to F32 a slice at a time, each slice multiplied by the backend's F32 GEMM (oneDNN) while it is
// still in cache. Pays the expansion once per op instead of once per group of tokens, so it wins
// from several dozen tokens on (kExpandedGemmTokens) and loses below.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <functional>

#include "f32_gemm.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {

// Measured on a Zen 4 (2 threads, TinyLlama shape; docs/formats.md): CS256 66 % pp16 10.9 t/s
// expanded against 25.7 with the sparse kernel, pp32 20.2 against 25.8, pp64 34.0 against 29.1;
// NF4 pp64 38.9 against 38.7. F16 rows, whose own kernel is cheaper, need more tokens: pp64 38.2
// against 41.6, pp96 47.2 against 42.3.
inline constexpr int64_t kExpandedGemmTokens = 64;
inline constexpr int64_t kExpandedHalfGemmTokens = 80;

// dst = W x where expand(r, out) writes weight row r as row_floats floats (at least n_in; the
// rest is scratch the expander may need). False, with dst unspecified, when the activations or
// dst are not evenly strided matrices or the GEMM refused: the caller then runs its kernels.
bool try_expanded_gemm(const hearth_op& op, F32Gemm& gemm, ThreadPool& pool, int64_t row_floats,
                       const std::function<void(int64_t, float*)>& expand);

}  // namespace hearth::backend_cpu

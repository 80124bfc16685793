// Plain scalar kernels over one weight row in any dtype MATMUL/EMBEDDING take (F32, F16, BF16,
// Q8_0, Q4_0; block layouts as in ../shared/specs/gguf.md §4). The SIMD kernels of a later
// speed pass are tested against these and the conformance reference.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_cpu {

// Dot product of two F32 vectors, summed in 8 independent float lanes (so the compiler can
// vectorise it) and then pairwise, as ggml's F32 dot does.
float dot_f32(const float* a, const float* b, int64_t n);

// Dot product of a weight row of n elements (dtype, raw bytes) and n F32 activations.
// Quantized rows sum each block's q * x in float, then scale by the block's d.
float dot_weight_row(hearth_dtype dtype, const void* row, const float* x, int64_t n);

// Expands a weight row of n elements to F32 (bit-exact: every value is d * q, or a conversion).
void dequantize_weight_row(hearth_dtype dtype, const void* row, float* out, int64_t n);

}  // namespace hearth::backend_cpu

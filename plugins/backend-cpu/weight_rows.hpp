// Kernels over one weight row: dot products of F32/F16/BF16 rows with F32 activations (quantized
// rows go through quant_kernels.hpp, which quantizes the activations first, as ggml does), and
// expansion of a row of any weight dtype to F32 (EMBEDDING).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_cpu {

// Dot product of two F32 vectors, summed in 8 independent float lanes (so the compiler can
// vectorise it) and then pairwise, as ggml's F32 dot does.
float dot_f32(const float* a, const float* b, int64_t n);

// Dot product of an F32, F16 or BF16 weight row of n elements and n F32 activations; AVX2 when
// simd and the CPU has it, else the 8-lane scalar loop.
float dot_weight_row(hearth_dtype dtype, const void* row, const float* x, int64_t n,
                     bool simd = true);

// Expands a weight row of n elements of any weight dtype to F32, bit-identical to ggml.
void dequantize_weight_row(hearth_dtype dtype, const void* row, float* out, int64_t n);

}  // namespace hearth::backend_cpu

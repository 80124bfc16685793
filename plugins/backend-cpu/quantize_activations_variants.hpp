// The two implementations behind quantize_row_q8_0 / q8_1 / q8_k (quant_kernels.hpp), which
// pick the AVX2 one when the CPU has it. Both give the same bytes as ggml's *_ref quantizers;
// they are declared here so tests can hold them against each other.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

void quantize_row_q8_0_scalar(const float* x, void* blocks, int64_t n);
void quantize_row_q8_1_scalar(const float* x, void* blocks, int64_t n);
void quantize_row_q8_k_scalar(const float* x, void* blocks, int64_t n);

// AVX2+FMA+F16C; call only when cpu_has_avx2().
void quantize_row_q8_0_avx2(const float* x, void* blocks, int64_t n);
void quantize_row_q8_1_avx2(const float* x, void* blocks, int64_t n);
void quantize_row_q8_k_avx2(const float* x, void* blocks, int64_t n);

}  // namespace hearth::backend_cpu

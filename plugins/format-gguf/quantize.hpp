// Scalar reference quantizers from float32: ggml's algorithms (ggml-quants.c), bit for bit.
//
// Each quantizes one row of n values (a multiple of the type's block size; the caller checks)
// into raw block bytes (any alignment). importance, when not null, holds n per-column weights
// (an importance matrix row, as llama-quantize --imatrix passes): the types that use one follow
// ggml's quantize_row_*_impl; with null they follow quantize_row_*_ref, which is what
// llama-quantize runs without an imatrix. Q8_0, Q8_1, Q8_K and the float types ignore it.
//
// Inputs must be finite (the plugin rejects NaN/inf, naming the element, before calling these);
// the float types F32/F16/BF16 take any value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::format_gguf {

void quantize_f32(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_f16(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_bf16(const float* src, std::byte* dst, int64_t n, const float* importance);

void quantize_q4_0(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q4_1(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q5_0(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q5_1(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q8_0(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q8_1(const float* src, std::byte* dst, int64_t n, const float* importance);

void quantize_q2_k(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q3_k(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q4_k(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q5_k(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q6_k(const float* src, std::byte* dst, int64_t n, const float* importance);
void quantize_q8_k(const float* src, std::byte* dst, int64_t n, const float* importance);

}  // namespace hearth::format_gguf

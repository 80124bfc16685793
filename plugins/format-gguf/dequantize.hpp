// Scalar reference dequantizers: ggml's dequantize_row_* (ggml-quants.c), bit for bit.
//
// Each decodes n elements from raw block bytes (any alignment) into dst. n must be a multiple of
// the type's block size; callers check that (the plugin does, with an error naming both numbers).
// The arithmetic is written in ggml's order (e.g. (d * scale) * q - dmin * min), which is what
// makes the float results identical; do not "simplify" it. Pure functions, no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::format_gguf {

void dequantize_f32(const std::byte* src, float* dst, int64_t n);
void dequantize_f16(const std::byte* src, float* dst, int64_t n);
void dequantize_bf16(const std::byte* src, float* dst, int64_t n);

void dequantize_q4_0(const std::byte* src, float* dst, int64_t n);
void dequantize_q4_1(const std::byte* src, float* dst, int64_t n);
void dequantize_q5_0(const std::byte* src, float* dst, int64_t n);
void dequantize_q5_1(const std::byte* src, float* dst, int64_t n);
void dequantize_q8_0(const std::byte* src, float* dst, int64_t n);
// ggml has no Q8_1 dequantizer (it is an activation format); this is qs * d, as for Q8_0.
void dequantize_q8_1(const std::byte* src, float* dst, int64_t n);

void dequantize_q2_k(const std::byte* src, float* dst, int64_t n);
void dequantize_q3_k(const std::byte* src, float* dst, int64_t n);
void dequantize_q4_k(const std::byte* src, float* dst, int64_t n);
void dequantize_q5_k(const std::byte* src, float* dst, int64_t n);
void dequantize_q6_k(const std::byte* src, float* dst, int64_t n);
void dequantize_q8_k(const std::byte* src, float* dst, int64_t n);

}  // namespace hearth::format_gguf

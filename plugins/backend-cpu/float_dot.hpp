// Dot products of F32, F16 and BF16 weight rows with F32 activations (activations stay F32 for
// these types). The scalar kernels live in weight_rows.cpp; the AVX2 ones are chosen at run time.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

// AVX2+FMA+F16C; call only when cpu_has_avx2(). F16/BF16 rows need 2-byte alignment.
float dot_f32_avx2(const float* w, const float* x, int64_t n);
float dot_f16_avx2(const uint16_t* w, const float* x, int64_t n);
float dot_bf16_avx2(const uint16_t* w, const float* x, int64_t n);
// y[i] += a * x[i] for an F16 row x: a multiply then an add (no FMA), so the result equals the
// plain loop over fp16_to_fp32 values bit for bit (attention's V accumulation, per key).
void axpy_f16_avx2(float a, const uint16_t* x, float* y, int64_t n);
// An F16 or BF16 row as F32 (exact, as the scalar conversions).
void f16_row_to_f32_avx2(const uint16_t* w, float* out, int64_t n);
void bf16_row_to_f32_avx2(const uint16_t* w, float* out, int64_t n);

}  // namespace hearth::backend_cpu

// Vector forms of the row-wise kernels' inner loops (kernels_rowwise.cpp, kernel_attention.cpp).
// The scalar loops there are the references; these are chosen at run time on AVX2 machines.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

// Scalar references.
double sum_squares_scalar(const float* x,
                          int64_t n);  // each x*x rounded to float, summed in double
void silu_mul_scalar(const float* gate, const float* up, float* out, int64_t n);

// AVX2+FMA+F16C; call only when cpu_has_avx2().
// The same float squares summed in double, four lanes at a time (a different order of the
// double additions: the float mean it yields can differ from the scalar one in its last bit).
double sum_squares_avx2(const float* x, int64_t n);
// out = gate / (1 + exp(-gate)) * up, with exp evaluated in vector form (within 2 ulp of
// std::exp over the float range); the division and the multiply are the scalar ones.
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t n);
// out[i] = x[i] rounded to F16 and back (round to nearest even, as the F16 conversions in
// sdk/half.hpp), in place allowed.
void round_to_f16_avx2(const float* x, float* out, int64_t n);
float round_to_f16_avx2(float x);

}  // namespace hearth::backend_cpu

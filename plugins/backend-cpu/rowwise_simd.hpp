// Vector forms of the row-wise kernels' inner loops (kernels_rowwise.cpp, kernel_attention.cpp).
// The scalar loops there are the references; these are chosen at run time on AVX2 machines.
#pragma once

#include <cstdint>

namespace hearth::backend_cpu {

// Scalar references.
double sum_squares_scalar(const float* x,
                          int64_t n);  // each x*x rounded to float, summed in double
void silu_mul_scalar(const float* gate, const float* up, float* out, int64_t n);
// Softmax's numerator: x[i] = exp(x[i] - max) in place, returning their sum in double (each term
// added in key order). ATTENTION and ATTENTION_SLOTS both call softmax_exp (below), so the two
// ops agree bit for bit.
double exp_minus_max_scalar(float* x, int64_t n, float max);

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
// exp_minus_max in ggml's vector form (ggml_vec_soft_max_f32): eight exponentials at a time
// (within 2 ulp of std::exp; at most ~1e-38 where std::exp gives a denormal or 0), each eight
// summed in float and added to the double total; the tail as the scalar loop.
double exp_minus_max_avx2(float* x, int64_t n, float max);

// The form for this CPU (AVX2 where present, else the scalar loop).
double softmax_exp(float* x, int64_t n, float max);

}  // namespace hearth::backend_cpu

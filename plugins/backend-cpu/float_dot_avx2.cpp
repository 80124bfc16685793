// AVX2+FMA+F16C dot products of F32, F16 and BF16 weight rows with F32 activations: 32 elements
// per step in four FMA accumulators, the tail in scalar.
#include <hearth/sdk/half.hpp>

#include "float_dot.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx2;

HEARTH_AVX2 inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

HEARTH_AVX2 inline __m256 load_bf16x8(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

template <class T, __m256 (*Load)(const T*), float (*Scalar)(T)>
HEARTH_AVX2 inline float dot_rows(const T* w, const float* x, int64_t n) {
  float sum = hsum(dot_lanes<T, Load>(w, x, n));
  for (int64_t i = n / 8 * 8; i < n; ++i) sum += Scalar(w[i]) * x[i];
  return sum;
}

float identity(float v) { return v; }
float from_f16(uint16_t v) { return sdk::fp16_to_fp32(v); }
float from_bf16(uint16_t v) { return sdk::bf16_to_fp32(v); }

}  // namespace

HEARTH_AVX2 float dot_f32_avx2(const float* w, const float* x, int64_t n) {
  return dot_rows<float, load_f32x8, identity>(w, x, n);
}

HEARTH_AVX2 float dot_f16_avx2(const uint16_t* w, const float* x, int64_t n) {
  return dot_rows<uint16_t, load_f16x8, from_f16>(w, x, n);
}

HEARTH_AVX2 float dot_bf16_avx2(const uint16_t* w, const float* x, int64_t n) {
  return dot_rows<uint16_t, load_bf16x8, from_bf16>(w, x, n);
}

HEARTH_AVX2 void axpy_f16_avx2(float a, const uint16_t* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i,
                     _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, load_f16x8(x + i))));
  for (; i < n; ++i) y[i] += a * from_f16(x[i]);
}

HEARTH_AVX2 void f16_row_to_f32_avx2(const uint16_t* w, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_f16x8(w + i));
  for (; i < n; ++i) out[i] = from_f16(w[i]);
}

HEARTH_AVX2 void bf16_row_to_f32_avx2(const uint16_t* w, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_bf16x8(w + i));
  for (; i < n; ++i) out[i] = from_bf16(w[i]);
}

}  // namespace hearth::backend_cpu

// AVX2 dot products of the 32-element block types: one block per step, its 32 integer products
// summed in int32 lanes, converted to float and accumulated with d_w * d_a by FMA.
#include "quant_blocks.hpp"
#include "quant_kernels.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

HEARTH_AVX2 float dot_q4_0_q8_0_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const __m256 d = _mm256_set1_ps(f16c_to_float(x[ib].d) * f16c_to_float(y[ib].d));
    const __m256i qx = _mm256_sub_epi8(nibbles_lo_then_hi(x[ib].qs), _mm256_set1_epi8(8));
    const __m256i sums = dot_i8_i8(qx, load32(y[ib].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc);
  }
  return hsum(acc);
}

HEARTH_AVX2 float dot_q4_1_q8_1_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    mins += f16c_to_float(x[ib].m) * f16c_to_float(y[ib].s);
    const __m256 d = _mm256_set1_ps(f16c_to_float(x[ib].d) * f16c_to_float(y[ib].d));
    const __m256i sums = dot_u8_i8(nibbles_lo_then_hi(x[ib].qs), load32(y[ib].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc);
  }
  return hsum(acc) + mins;
}

HEARTH_AVX2 float dot_q5_0_q8_0_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const __m256 d = _mm256_set1_ps(f16c_to_float(x[ib].d) * f16c_to_float(y[ib].d));
    // (nibble | bit << 4) - 16 is the nibble itself where the bit is set, and the nibble with
    // 0xF0 or'ed in (nibble - 16 as int8) where it is not.
    const __m256i missing = _mm256_andnot_si256(bits_to_bytes(x[ib].qh), _mm256_set1_epi8(-16));
    const __m256i qx = _mm256_or_si256(nibbles_lo_then_hi(x[ib].qs), missing);
    const __m256i sums = dot_i8_i8(qx, load32(y[ib].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc);
  }
  return hsum(acc);
}

HEARTH_AVX2 float dot_q5_1_q8_1_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    mins += f16c_to_float(x[ib].m) * f16c_to_float(y[ib].s);
    const __m256 d = _mm256_set1_ps(f16c_to_float(x[ib].d) * f16c_to_float(y[ib].d));
    const __m256i high = _mm256_and_si256(bits_to_bytes(x[ib].qh), _mm256_set1_epi8(0x10));
    const __m256i qx = _mm256_or_si256(nibbles_lo_then_hi(x[ib].qs), high);
    const __m256i sums = dot_u8_i8(qx, load32(y[ib].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc);
  }
  return hsum(acc) + mins;
}

HEARTH_AVX2 float dot_q8_0_q8_0_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const __m256 d = _mm256_set1_ps(f16c_to_float(x[ib].d) * f16c_to_float(y[ib].d));
    // The weight goes first: |-128| is 128 as an unsigned byte, and the activation, which
    // takes the weight's sign, is never -128 (its quants are -127..127).
    const __m256i sums = dot_i8_i8(load32(x[ib].qs), load32(y[ib].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sums), acc);
  }
  return hsum(acc);
}

}  // namespace hearth::backend_cpu

// 512-bit helpers for the AVX-512 kernels that use whole zmm registers (NF4, CS256). Where GCC 12's
// plain intrinsic passes an undefined vector as the merge source (which its -Wmaybe-uninitialized
// reports), the all-lanes masked form is used: the same instruction. Files including this still
// need the pragma their headers carry, for intrinsics GCC uses internally.
#pragma once

#include "interleaved_avx512.hpp"

namespace hearth::backend_cpu::avx512 {

inline constexpr __mmask16 kAllLanes = 0xFFFF;

HEARTH_AVX512 inline __m512i widen_u8(__m128i bytes) {
  return _mm512_maskz_cvtepu8_epi32(kAllLanes, bytes);
}

HEARTH_AVX512 inline __m512i widen_i8(__m128i bytes) {
  return _mm512_maskz_cvtepi8_epi32(kAllLanes, bytes);
}

HEARTH_AVX512 inline __m512i widen_u16(__m256i words) {
  return _mm512_maskz_cvtepu16_epi32(kAllLanes, words);
}

// table[idx[i]] per lane (the low 4 bits of each index).
HEARTH_AVX512 inline __m512 lookup16(__m512 table, __m512i idx) {
  return _mm512_maskz_permutexvar_ps(kAllLanes, idx, table);
}

// The 32 floats a (0..15) and b (16..31) picked by the low 5 bits of each index.
HEARTH_AVX512 inline __m512 lookup32(__m512 a, __m512i idx, __m512 b) {
  return _mm512_maskz_permutex2var_ps(kAllLanes, a, idx, b);
}

HEARTH_AVX512 inline __m512 halves_to_float(__m256i f16) {
  return _mm512_maskz_cvtph_ps(kAllLanes, f16);
}

HEARTH_AVX512 inline __m512 int_to_float(__m512i v) {
  return _mm512_maskz_cvtepi32_ps(kAllLanes, v);
}

HEARTH_AVX512 inline float hsum(__m512 v) {
  const __m512 high = _mm512_shuffle_f32x4(v, v, 0xEE);  // lanes 8..15 moved to 0..7
  return avx2::hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_castps512_ps256(high)));
}

}  // namespace hearth::backend_cpu::avx512

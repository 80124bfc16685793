// Helpers shared by the interleaved-rows AVX2 kernels (interleaved_gemv_avx2.cpp and
// interleaved_gemm_avx2.cpp); include only from files whose functions all carry HEARTH_AVX2.
#pragma once

#include "interleaved_rows.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu::avx2 {

HEARTH_AVX2 inline __m256i broadcast_word(const int8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm256_set1_epi32(w);
}

HEARTH_AVX2 inline __m256 group_scales(const Half* d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

// Eight rows' bytes, each row's as an int16 in both halves of its int32 lane (madd's pairs).
HEARTH_AVX2 inline __m256i row_scales(const uint8_t* bytes) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
  return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

// The same from signed bytes (Q6_K's scales): the sign-extended int32 cut to its low half.
HEARTH_AVX2 inline __m256i row_scales(const int8_t* bytes) {
  const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
  return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(v, 16));
}

HEARTH_AVX2 inline __m256i low_bits(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(static_cast<char>(mask)));
}

}  // namespace hearth::backend_cpu::avx2

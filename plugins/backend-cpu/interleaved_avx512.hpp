// Helpers shared by the interleaved-rows AVX-512 VNNI kernels (interleaved_gemv_avx512.cpp and
// interleaved_gemm_avx512.cpp); include only from files whose functions all carry HEARTH_AVX512
// (the files are compiled without -mavx512*, so the plugin still loads on AVX2-only CPUs).
//
// The kernels keep AVX2's 256-bit vectors (8 int32 lanes = the 8 interleaved rows) and take
// from AVX-512 its VL encoding of VNNI's vpdpbusd: one instruction for maddubs + madd + add,
// summing straight into int32 with no 16-bit stage. 512-bit vectors would hold two words of the
// same rows and need a half-sum per block; on Zen 4 they run as two 256-bit halves anyway.
//
// Their results are bit-identical to the AVX2 kernels: every integer block sum is exact in both
// (AVX2's int16 stages never saturate for these types, see interleaved_gemv_avx2.cpp), and the
// float operations per block (scale products, FMA into the accumulator) are the same, in the
// same order, per lane.
#pragma once

#include "interleaved_avx2.hpp"

#define HEARTH_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

namespace hearth::backend_cpu::avx512 {

// acc + per int32 lane the 4 products of unsigned bytes of u with signed bytes of s.
HEARTH_AVX512 inline __m256i dot_add(__m256i acc, __m256i u, __m256i s) {
  return _mm256_dpbusd_epi32(acc, u, s);
}

// Four words' levels times the activation bytes a[0..15], summed per row in int32 (vpdpbusd).
HEARTH_AVX512 inline __m256i four_word_sums32(const __m256i (&levels)[4], const int8_t* a) {
  const __m256i p01 = dot_add(dot_add(_mm256_setzero_si256(), levels[0], avx2::broadcast_word(a)),
                              levels[1], avx2::broadcast_word(a + 4));
  const __m256i p23 =
      dot_add(dot_add(_mm256_setzero_si256(), levels[2], avx2::broadcast_word(a + 8)), levels[3],
              avx2::broadcast_word(a + 12));
  return _mm256_add_epi32(p01, p23);
}

// Eight rows' unsigned (Q4_K) or signed (Q6_K) byte scales, one per int32 lane.
HEARTH_AVX512 inline __m256i row_scales32(const uint8_t* bytes) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
}
HEARTH_AVX512 inline __m256i row_scales32(const int8_t* bytes) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
}

// Q2_K's scales (low nibbles of the packed bytes) of eight rows, one per int32 lane.
HEARTH_AVX512 inline __m256i q2_k_row_scales32(const uint8_t* bytes) {
  return _mm256_cvtepu8_epi32(
      _mm_and_si128(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)), _mm_set1_epi8(0x0F)));
}

// Q6_K's 6-bit levels k (0..3) of one word: the low (k < 2) or high nibble of the ql word, with
// bits 2 k and 2 k + 1 of the qh word as bits 4 and 5 (the row's own decoding).
HEARTH_AVX512 inline __m256i q6_k_levels(__m256i ql, __m256i qh, int k) {
  const __m256i low =
      k < 2 ? _mm256_and_si256(ql, _mm256_set1_epi8(0x0F)) : avx2::low_bits(ql, 4, 0x0F);
  return _mm256_or_si256(low, _mm256_slli_epi16(avx2::low_bits(qh, 2 * k, 3), 4));
}

// Q5_K's 5-bit levels of sub-block s (avx2::q5_k_level's values): the nibbles masked, then one
// ternary-logic select takes bit 4 from the shifted qh word and bits 0..3 from the nibbles, in
// place of AVX2's mask and OR.
HEARTH_AVX512 inline __m256i q5_k_levels(__m256i qs, __m256i qh, int s) {
  const __m256i nibbles =
      s % 2 == 0 ? _mm256_and_si256(qs, _mm256_set1_epi8(0x0F)) : avx2::low_bits(qs, 4, 0x0F);
  const __m256i placed = s < 4    ? _mm256_slli_epi16(qh, 4 - s)
                         : s == 4 ? qh
                                  : _mm256_srli_epi16(qh, s - 4);
  // Per bit: the mask (C) picks placed (B) where set, nibbles (A) elsewhere.
  constexpr int kSelectBOverA = 0xD8;
  return _mm256_ternarylogic_epi32(nibbles, placed, _mm256_set1_epi8(0x10), kSelectBOverA);
}

// Q5_0's levels of quants word j (avx2::q5_0_level's values).
HEARTH_AVX512 inline __m256i q5_0_levels(__m256i qs, __m256i qh, int j, bool lo) {
  return q5_k_levels(qs, qh, lo ? 2 * j : 2 * j + 1);
}

// Q4_1's (Q5_1's) levels of quants word j (avx2::affine_legacy_level's values).
template <class Group>
HEARTH_AVX512 inline __m256i affine_legacy_levels(__m256i qs, __m256i qh, int j, bool lo) {
  if constexpr (requires(Group g) { g.qh; }) return q5_0_levels(qs, qh, j, lo);
  return lo ? _mm256_and_si256(qs, _mm256_set1_epi8(0x0F)) : avx2::low_bits(qs, 4, 0x0F);
}

// Q3_K's levels of field k with bit g of the hmask word as bit 2 (avx2::q3_k_level's values):
// one ternary-logic select takes bits 0, 1 from the shifted quants and the rest from the shifted
// hmask, and one mask keeps bits 0..2, in place of AVX2's two masks and OR.
HEARTH_AVX512 inline __m256i q3_k_levels(__m256i qs, __m256i hmask, int k, int g) {
  const __m256i low = k == 0 ? qs : _mm256_srli_epi16(qs, 2 * k);
  const __m256i placed = g < 2    ? _mm256_slli_epi16(hmask, 2 - g)
                         : g == 2 ? hmask
                                  : _mm256_srli_epi16(hmask, g - 2);
  // Per bit: the mask (C) picks low (A) where set, placed (B) elsewhere.
  constexpr int kSelectAOverB = 0xE4;
  return _mm256_and_si256(
      _mm256_ternarylogic_epi32(low, placed, _mm256_set1_epi8(3), kSelectAOverB),
      _mm256_set1_epi8(7));
}

}  // namespace hearth::backend_cpu::avx512

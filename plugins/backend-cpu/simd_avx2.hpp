// Helpers shared by the AVX2 kernels. Include only from files whose functions all carry
// HEARTH_AVX2: this header is compiled without -mavx2, so every function it defines must carry
// the target attribute itself, and callers must be AVX2 functions too (they inline these).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define HEARTH_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace hearth::backend_cpu::avx2 {

HEARTH_AVX2 inline float f16c_to_float(uint16_t h) { return _cvtsh_ss(h); }

HEARTH_AVX2 inline float hsum(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

HEARTH_AVX2 inline __m256 load_f32x8(const float* p) { return _mm256_loadu_ps(p); }

// The products of w and x over the first n / 8 * 8 elements, in the order of the float dot
// products (float_dot_avx2.cpp) and of ATTENTION's F16 scores (attention_f16_avx2.cpp), which
// must agree to the bit: four 8-wide FMA accumulators over 32-element steps, the remaining
// 8-element steps into the first, the four added pairwise. hsum of it is their dot product.
template <class T, __m256 (*Load)(const T*)>
HEARTH_AVX2 inline __m256 dot_lanes(const T* w, const float* x, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(Load(w + i + 8 * k), _mm256_loadu_ps(x + i + 8 * k), acc[k]);
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(Load(w + i), _mm256_loadu_ps(x + i), acc[0]);
  return _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
}

HEARTH_AVX2 inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// 16 bytes of nibbles -> 32 bytes: the 16 low nibbles, then the 16 high nibbles (legacy order).
HEARTH_AVX2 inline __m256i nibbles_lo_then_hi(const uint8_t* qs) {
  const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_insertf128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes, byte i = 0xFF where bit i is set.
HEARTH_AVX2 inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, sizeof bits);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i others = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(others, _mm256_set1_epi64x(-1));
}

// Sums of products of unsigned (0..127 at most here) and signed bytes, 8 int32 lanes.
HEARTH_AVX2 inline __m256i dot_u8_i8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Sums of products of two signed byte vectors (values -127..127 in at least one), 8 int32 lanes.
HEARTH_AVX2 inline __m256i dot_i8_i8(__m256i x, __m256i y) {
  return dot_u8_i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

HEARTH_AVX2 inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// int16 scale vector: lanes 0..7 = a, lanes 8..15 = b (maddubs over 32 bytes puts bytes 0..15
// in lanes 0..7 and bytes 16..31 in lanes 8..15, so this scales two 16-element sub-blocks).
HEARTH_AVX2 inline __m256i scale_pair(int a, int b) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(b)),
                          _mm_set1_epi16(static_cast<int16_t>(a)));
}

}  // namespace hearth::backend_cpu::avx2

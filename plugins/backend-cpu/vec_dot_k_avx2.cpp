// AVX2 dot products of the K-quant super-blocks with Q8_K activations. Per super-block the
// weight levels are built 32 at a time as unsigned bytes, multiplied with the activation quants
// by maddubs (int16 pairs), scaled per 16 or 32 elements by madd with the sub-block scales, and
// summed in int32; the offsets (mins, Q3_K's -4, Q6_K's -32) are subtracted in integers too.
#include "quant_blocks.hpp"
#include "quant_kernels.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

namespace {

// sum_j bsums[j] * mins[j] over the 16 sub-blocks of 16, mins given as 16 bytes.
HEARTH_AVX2 inline int bsums_dot(const int16_t* bsums, __m128i mins_u8) {
  const __m256i mins = _mm256_cvtepu8_epi16(mins_u8);
  return hsum_i32(_mm256_madd_epi16(mins, load32(bsums)));
}

HEARTH_AVX2 inline __m256i low_bits(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(static_cast<char>(mask)));
}

}  // namespace

HEARTH_AVX2 float dot_q2_k_q8_k_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = x[i].scales;
    const __m128i sc_bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sc));
    const int summs =
        bsums_dot(y[i].bsums, _mm_and_si128(_mm_srli_epi16(sc_bytes, 4), _mm_set1_epi8(0x0F)));
    mins_total += (y[i].d * f16c_to_float(x[i].dmin)) * static_cast<float>(summs);
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i bits = load32(x[i].qs + 32 * half);
      for (int j = 0; j < 4; ++j) {
        const int g = 4 * half + j;
        const __m256i q = low_bits(bits, 2 * j, 3);
        const __m256i p = _mm256_maddubs_epi16(q, load32(y[i].qs + 32 * g));
        sumi = _mm256_add_epi32(
            sumi, _mm256_madd_epi16(scale_pair(sc[2 * g] & 0xF, sc[2 * g + 1] & 0xF), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[i].d * f16c_to_float(x[i].d)), _mm256_cvtepi32_ps(sumi),
                          acc);
  }
  return hsum(acc) - mins_total;
}

HEARTH_AVX2 float dot_q3_k_q8_k_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t scales[16];
    unpack_scales_q3_k(x[i].scales, scales);
    const __m256i hmask = load32(x[i].hmask);
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i bits = load32(x[i].qs + 32 * half);
      for (int j = 0; j < 4; ++j) {
        const int g = 4 * half + j;
        const __m256i q = low_bits(bits, 2 * j, 3);
        // 4 where the high bit is clear: the level is q - 4 there.
        const __m256i minus4 =
            _mm256_slli_epi16(_mm256_xor_si256(low_bits(hmask, g, 1), _mm256_set1_epi8(1)), 2);
        const __m256i q8 = load32(y[i].qs + 32 * g);
        const __m256i p =
            _mm256_sub_epi16(_mm256_maddubs_epi16(q, q8), _mm256_maddubs_epi16(minus4, q8));
        sumi = _mm256_add_epi32(sumi,
                                _mm256_madd_epi16(scale_pair(scales[2 * g], scales[2 * g + 1]), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c_to_float(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi),
                          acc);
  }
  return hsum(acc);
}

namespace {

template <class Block, bool kFifthBit>
HEARTH_AVX2 inline float dot_affine_k_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  __m256 acc = _mm256_setzero_ps();
  float mins_total = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t scales[8], mins[8];
    unpack_scales_k4(x[i].scales, scales, mins);
    // Each min covers 32 elements, two bsums: repeat every min twice.
    const __m128i mins8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(mins));
    const int summs = bsums_dot(y[i].bsums, _mm_unpacklo_epi8(mins8, mins8));
    mins_total += (f16c_to_float(x[i].dmin) * y[i].d) * static_cast<float>(summs);
    __m256i high = _mm256_setzero_si256();
    if constexpr (kFifthBit) high = load32(x[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const __m256i bits = load32(x[i].qs + 32 * p);
      __m256i lo = _mm256_and_si256(bits, _mm256_set1_epi8(0x0F));
      __m256i hi = low_bits(bits, 4, 0x0F);
      if constexpr (kFifthBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(low_bits(high, 2 * p, 1), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(low_bits(high, 2 * p + 1, 1), 4));
      }
      const __m256i plo = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * p));
      const __m256i phi = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * p + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_set1_epi16(scales[2 * p]), plo));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_set1_epi16(scales[2 * p + 1]), phi));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c_to_float(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi),
                          acc);
  }
  return hsum(acc) - mins_total;
}

}  // namespace

HEARTH_AVX2 float dot_q4_k_q8_k_avx2(int64_t n, const void* w, const void* a) {
  return dot_affine_k_avx2<BlockQ4_K, false>(n, w, a);
}

HEARTH_AVX2 float dot_q5_k_q8_k_avx2(int64_t n, const void* w, const void* a) {
  return dot_affine_k_avx2<BlockQ5_K, true>(n, w, a);
}

HEARTH_AVX2 float dot_q6_k_q8_k_avx2(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i offset = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load32(x[i].ql + 64 * h);
      const __m256i ql1 = load32(x[i].ql + 64 * h + 32);
      const __m256i qh = load32(x[i].qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, _mm256_set1_epi8(0x0F)),
                          _mm256_slli_epi16(low_bits(qh, 0, 3), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, _mm256_set1_epi8(0x0F)),
                          _mm256_slli_epi16(low_bits(qh, 2, 3), 4)),
          _mm256_or_si256(low_bits(ql0, 4, 0x0F), _mm256_slli_epi16(low_bits(qh, 4, 3), 4)),
          _mm256_or_si256(low_bits(ql1, 4, 0x0F), _mm256_slli_epi16(low_bits(qh, 6, 3), 4))};
      for (int k = 0; k < 4; ++k) {
        const int g = 4 * h + k;
        const __m256i q8 = load32(y[i].qs + 32 * g);
        const __m256i p =
            _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], q8), _mm256_maddubs_epi16(offset, q8));
        sumi = _mm256_add_epi32(
            sumi, _mm256_madd_epi16(scale_pair(x[i].scales[2 * g], x[i].scales[2 * g + 1]), p));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(f16c_to_float(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi),
                          acc);
  }
  return hsum(acc);
}

}  // namespace hearth::backend_cpu

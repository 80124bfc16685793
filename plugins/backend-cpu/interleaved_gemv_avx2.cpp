// AVX2 GEMV over 8 interleaved rows (interleaved_rows.hpp): per 32-element block, each 4-byte
// activation word is broadcast and multiplied with the matching word of all 8 rows in one
// maddubs, so int32 lane r accumulates row r; one FMA per block scales all 8 rows.
#include "interleaved_rows.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

namespace {

HEARTH_AVX2 inline __m256i broadcast_word(const int8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm256_set1_epi32(w);
}

HEARTH_AVX2 inline __m256 group_scales(const Half* d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

}  // namespace

// Unsigned nibbles (0..15) times signed activations: a maddubs pair is at most 2 * 15 * 127, so
// the 8 pairs of a row's 16 elements per int16 lane (30480) fit without saturation; the offset
// of 8 comes off as 8 * sum(activation quants), exactly, in int32.
HEARTH_AVX2 void gemv_q4_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ4_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    __m256i sum16 = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i packed = load32(w[ib].qs + 32 * j);
      const __m256i lo = _mm256_and_si256(packed, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
      sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(lo, broadcast_word(y[ib].qs + 4 * j)));
      sum16 =
          _mm256_add_epi16(sum16, _mm256_maddubs_epi16(hi, broadcast_word(y[ib].qs + 16 + 4 * j)));
    }
    const __m256i sum32 = _mm256_sub_epi32(_mm256_madd_epi16(sum16, _mm256_set1_epi16(1)),
                                           _mm256_set1_epi32(info[ib].sum8));
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Signed times signed: the weight's magnitude (|-128| is 128 as an unsigned byte) times the
// activation carrying the weight's sign (activations are -127..127), then pairs to int32.
HEARTH_AVX2 void gemv_q8_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ8_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    __m256i sum32 = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i q = load32(w[ib].qs + 32 * j);
      const __m256i a = broadcast_word(y[ib].qs + 4 * j);
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
      sum32 = _mm256_add_epi32(sum32, _mm256_madd_epi16(pairs, ones));
    }
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace hearth::backend_cpu

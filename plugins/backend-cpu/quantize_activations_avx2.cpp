// AVX2 versions of the activation quantizers, byte for byte the scalar ones (ggml's *_ref): a
// decode step quantizes every matmul's input on the calling thread, and the scalar loops (libm
// roundf per element) cost ~2 ms per TinyLlama token. Every float operation is the scalar
// code's own (a multiply, an add, max of absolute values), done 8 lanes at a time; roundf's
// half-away-from-zero is rebuilt exactly from truncation, since the SIMD rounding modes round
// ties to even.
#include <hearth/sdk/half.hpp>

#include <cstring>

#include "quant_blocks.hpp"
#include "quantize_activations_variants.hpp"

#include <immintrin.h>

// AVX2 without FMA: with FMA enabled the compiler may fuse q8_k's multiply and add into one
// rounding, which would change the quants.
#define HEARTH_AVX2_NO_FMA __attribute__((target("avx2,f16c")))

namespace hearth::backend_cpu {
namespace {

HEARTH_AVX2_NO_FMA inline __m256 abs8(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

HEARTH_AVX2_NO_FMA inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// roundf: round half away from zero. v - trunc(v) is exact, so comparing its magnitude with
// 0.5 decides the tie the way roundf does.
HEARTH_AVX2_NO_FMA inline __m256i round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
  return _mm256_cvtps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, step)));
}

// Four vectors of 8 int32 (elements 0..31 in order) -> 32 int8 in order.
HEARTH_AVX2_NO_FMA inline __m256i pack_in_order(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 ...
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

HEARTH_AVX2_NO_FMA inline int sum_bytes(__m256i q) {
  const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
  const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// One block of 32: quants into qs, the float step into d; returns the sum of the quants.
HEARTH_AVX2_NO_FMA inline int quantize_block_32(const float* x, int8_t* qs, float& d) {
  __m256 v[4];
  for (int i = 0; i < 4; ++i) v[i] = _mm256_loadu_ps(x + 8 * i);
  const float amax = hmax(
      _mm256_max_ps(_mm256_max_ps(abs8(v[0]), abs8(v[1])), _mm256_max_ps(abs8(v[2]), abs8(v[3]))));
  d = amax / ((1 << 7) - 1);
  const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = round_away(_mm256_mul_ps(v[i], id));
  const __m256i packed = pack_in_order(q[0], q[1], q[2], q[3]);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), packed);
  return sum_bytes(packed);
}

}  // namespace

HEARTH_AVX2_NO_FMA void quantize_row_q8_0_avx2(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(blocks);
  for (int64_t i = 0; i < n / kQK; ++i) {
    float d;
    quantize_block_32(x + i * kQK, y[i].qs, d);
    y[i].d = sdk::fp32_to_fp16(d);
  }
}

HEARTH_AVX2_NO_FMA void quantize_row_q8_1_avx2(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(blocks);
  for (int64_t i = 0; i < n / kQK; ++i) {
    float d;
    const int sum = quantize_block_32(x + i * kQK, y[i].qs, d);
    y[i].d = sdk::fp32_to_fp16(d);
    y[i].s = sdk::fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

// The scale is max / -127 with max the first element of largest magnitude (the scalar loop's
// strict '>' keeps the first), quants nearest_int(iscale * x) capped at 127: the float add of
// 1.5 * 2^23 rounds to an integer in the mantissa, read back with integer ops.
HEARTH_AVX2_NO_FMA void quantize_row_q8_k_avx2(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(blocks);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQK_K; j += 8) m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + j)));
    const float amax = hmax(m);
    if (amax == 0.0f) {
      y[i].d = 0.0f;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    float max = 0.0f;
    const __m256 target = _mm256_set1_ps(amax);
    for (int j = 0; j < kQK_K; j += 8) {
      const __m256 hit = _mm256_cmp_ps(abs8(_mm256_loadu_ps(x + j)), target, _CMP_EQ_OQ);
      const int mask = _mm256_movemask_ps(hit);
      if (mask != 0) {
        max = x[j + __builtin_ctz(static_cast<unsigned>(mask))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 scale = _mm256_set1_ps(iscale);
    const __m256 magic = _mm256_set1_ps(12582912.f);
    const __m256i mantissa = _mm256_set1_epi32(0x007fffff);
    const __m256i offset = _mm256_set1_epi32(0x00400000);
    const __m256i cap = _mm256_set1_epi32(127);
    for (int j = 0; j < kQK_K; j += 32) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 val =
            _mm256_add_ps(_mm256_mul_ps(scale, _mm256_loadu_ps(x + j + 8 * k)), magic);
        const __m256i bits =
            _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(val), mantissa), offset);
        q[k] = _mm256_min_epi32(bits, cap);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + j),
                          pack_in_order(q[0], q[1], q[2], q[3]));
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      const __m128i q16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[i].qs + 16 * j));
      const __m128i s16 = _mm_maddubs_epi16(_mm_set1_epi8(1), q16);
      __m128i s = _mm_madd_epi16(s16, _mm_set1_epi16(1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
      y[i].bsums[j] = static_cast<int16_t>(_mm_cvtsi128_si32(s));
    }
    y[i].d = 1 / iscale;
  }
}

}  // namespace hearth::backend_cpu

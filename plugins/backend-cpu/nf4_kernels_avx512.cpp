// AVX-512 NF4 kernels: 16 codes widen to one register of 32-bit indices and one vpermps looks
// all 16 up in the whole table (AVX2 needs two permutes and a blend per 8). Each product and
// each block's sum of 64 is formed as in the AVX2 kernel's lanes, in 16 lanes instead of 8, so
// results agree with the scalar reference within float reassociation, as the AVX2 ones do.
// GCC 12's avx512fintrin.h builds several intrinsics on an undefined vector (the merge source of
// an all-lanes operation), which its own -W(maybe-)uninitialized reports from inlined code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <cstring>

#include "nf4_kernels.hpp"
#include "nf4_table.hpp"
#include "simd_avx512.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx512;

HEARTH_AVX512 inline __m512 lookup_codes(__m512 table, __m128i codes) {
  return lookup16(table, widen_u8(codes));
}

// The 64 table values of one block, in element order, 16 per register.
HEARTH_AVX512 inline void decode_block(__m512 table, const unsigned char* qs, __m512 (&v)[4]) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int half = 0; half < 2; ++half) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * half));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    const __m128i lo = _mm_and_si128(q, mask);
    v[2 * half] = lookup_codes(table, _mm_unpacklo_epi8(hi, lo));  // elements 0..15 of this half
    v[2 * half + 1] = lookup_codes(table, _mm_unpackhi_epi8(hi, lo));
  }
}

}  // namespace

HEARTH_AVX512 void dequantize_row_nf4_avx512(const void* row, float* out, int64_t n) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  const __m512 table = _mm512_loadu_ps(kNf4Table.data());
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    float d;
    std::memcpy(&d, block, sizeof d);
    const __m512 scale = _mm512_set1_ps(d);
    float* dst = out + b * kNf4BlockElems;
    __m512 v[4];
    decode_block(table, block + 4, v);
    for (int g = 0; g < 4; ++g) _mm512_storeu_ps(dst + 16 * g, _mm512_mul_ps(v[g], scale));
  }
}

HEARTH_AVX512 float dot_nf4_f32_avx512(int64_t n, const void* row, const float* x) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  const __m512 table = _mm512_loadu_ps(kNf4Table.data());
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    const float* xb = x + b * kNf4BlockElems;
    float d;
    std::memcpy(&d, block, sizeof d);
    __m512 v[4];
    decode_block(table, block + 4, v);
    // Two chains, so consecutive FMAs do not wait on each other.
    const __m512 s0 =
        _mm512_fmadd_ps(v[2], _mm512_loadu_ps(xb + 32), _mm512_mul_ps(v[0], _mm512_loadu_ps(xb)));
    const __m512 s1 = _mm512_fmadd_ps(v[3], _mm512_loadu_ps(xb + 48),
                                      _mm512_mul_ps(v[1], _mm512_loadu_ps(xb + 16)));
    acc = _mm512_fmadd_ps(_mm512_add_ps(s0, s1), _mm512_set1_ps(d), acc);
  }
  return avx512::hsum(acc);
}

HEARTH_AVX512 float dot_nf4_pairs_avx512(int64_t n, const void* row, const float* xp,
                                         const float* x) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  const __m512 table = _mm512_loadu_ps(kNf4Table.data());
  __m512 acc = _mm512_setzero_ps();
  const int64_t pairs = n / (2 * kNf4BlockElems);
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const unsigned char* a = bytes + 2 * pair * kNf4BlockBytes;
    const unsigned char* b = a + kNf4BlockBytes;
    float da, db;
    std::memcpy(&da, a, sizeof da);
    std::memcpy(&db, b, sizeof db);
    const __m512i codes = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 4))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 4)), 1);
    const float* xj = xp + pair * 128;
    // Two chains of four, so consecutive FMAs do not wait on each other.
    __m512 s0 = _mm512_mul_ps(lookup16(table, codes), _mm512_loadu_ps(xj));
    __m512 s1 =
        _mm512_mul_ps(lookup16(table, _mm512_srli_epi32(codes, 4)), _mm512_loadu_ps(xj + 16));
    s0 =
        _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 8)), _mm512_loadu_ps(xj + 32), s0);
    s1 = _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 12)), _mm512_loadu_ps(xj + 48),
                         s1);
    s0 = _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 16)), _mm512_loadu_ps(xj + 64),
                         s0);
    s1 = _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 20)), _mm512_loadu_ps(xj + 80),
                         s1);
    s0 = _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 24)), _mm512_loadu_ps(xj + 96),
                         s0);
    s1 = _mm512_fmadd_ps(lookup16(table, _mm512_srli_epi32(codes, 28)), _mm512_loadu_ps(xj + 112),
                         s1);
    // Lanes 0-7 belong to the first block, 8-15 to the second.
    const __m512 scale = _mm512_castpd_ps(_mm512_insertf64x4(
        _mm512_castps_pd(_mm512_set1_ps(da)), _mm256_castps_pd(_mm256_set1_ps(db)), 1));
    acc = _mm512_fmadd_ps(_mm512_add_ps(s0, s1), scale, acc);
  }
  float sum = avx512::hsum(acc);
  if (n / kNf4BlockElems % 2 != 0) {
    const int64_t done = pairs * 2 * kNf4BlockElems;
    sum += dot_nf4_f32_avx512(kNf4BlockElems, bytes + 2 * pairs * kNf4BlockBytes, x + done);
  }
  return sum;
}

}  // namespace hearth::backend_cpu

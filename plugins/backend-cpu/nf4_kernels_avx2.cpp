// AVX2+FMA NF4 kernels: 16 codes at a time are split into nibbles in element order (high nibble
// first), widened to 32-bit indices and looked up in the 16-entry table held in two registers
// (vpermps on the low 3 bits, blend on bit 3).
#include <cstring>

#include "nf4_kernels.hpp"
#include "nf4_table.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu {
namespace {

using namespace avx2;

struct Nf4Lut {
  __m256 lo;
  __m256 hi;
};

HEARTH_AVX2 inline Nf4Lut load_lut() {
  return {_mm256_load_ps(kNf4Table.data()), _mm256_load_ps(kNf4Table.data() + 8)};
}

// 8 codes (the low 8 bytes of codes) to their table values.
HEARTH_AVX2 inline __m256 lookup8(const Nf4Lut& lut, __m128i codes) {
  const __m256i idx = _mm256_cvtepu8_epi32(codes);
  const __m256 lo = _mm256_permutevar8x32_ps(lut.lo, idx);
  const __m256 hi = _mm256_permutevar8x32_ps(lut.hi, idx);
  // Bit 3 of the code moved to the sign bit selects the upper half of the table.
  return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

// The 64 table values of one block, in element order, 8 per register.
HEARTH_AVX2 inline void decode_block(const Nf4Lut& lut, const unsigned char* qs, __m256 (&v)[8]) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int half = 0; half < 2; ++half) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + 16 * half));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
    const __m128i lo = _mm_and_si128(q, mask);
    const __m128i first = _mm_unpacklo_epi8(hi, lo);   // elements 0..15 of this half
    const __m128i second = _mm_unpackhi_epi8(hi, lo);  // elements 16..31
    v[4 * half + 0] = lookup8(lut, first);
    v[4 * half + 1] = lookup8(lut, _mm_srli_si128(first, 8));
    v[4 * half + 2] = lookup8(lut, second);
    v[4 * half + 3] = lookup8(lut, _mm_srli_si128(second, 8));
  }
}

}  // namespace

HEARTH_AVX2 void dequantize_row_nf4_avx2(const void* row, float* out, int64_t n) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  const Nf4Lut lut = load_lut();
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    float d;
    std::memcpy(&d, block, sizeof d);
    const __m256 scale = _mm256_set1_ps(d);
    float* dst = out + b * kNf4BlockElems;
    __m256 v[8];
    decode_block(lut, block + 4, v);
    for (int g = 0; g < 8; ++g) _mm256_storeu_ps(dst + 8 * g, _mm256_mul_ps(v[g], scale));
  }
}

HEARTH_AVX2 float dot_nf4_f32_avx2(int64_t n, const void* row, const float* x) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  const Nf4Lut lut = load_lut();
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    const float* xb = x + b * kNf4BlockElems;
    float d;
    std::memcpy(&d, block, sizeof d);
    __m256 v[8];
    decode_block(lut, block + 4, v);
    __m256 s0 = _mm256_mul_ps(v[0], _mm256_loadu_ps(xb));
    __m256 s1 = _mm256_mul_ps(v[1], _mm256_loadu_ps(xb + 8));
    for (int g = 2; g < 8; g += 2) {
      s0 = _mm256_fmadd_ps(v[g], _mm256_loadu_ps(xb + 8 * g), s0);
      s1 = _mm256_fmadd_ps(v[g + 1], _mm256_loadu_ps(xb + 8 * g + 8), s1);
    }
    acc = _mm256_fmadd_ps(_mm256_add_ps(s0, s1), _mm256_set1_ps(d), acc);
  }
  return hsum(acc);
}

}  // namespace hearth::backend_cpu

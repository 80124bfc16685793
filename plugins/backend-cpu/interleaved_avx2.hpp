// Helpers shared by the interleaved-rows AVX2 kernels (interleaved_gemv_avx2.cpp and
// interleaved_gemm_avx2.cpp); include only from files whose functions all carry HEARTH_AVX2.
#pragma once

#include "interleaved_rows.hpp"
#include "simd_avx2.hpp"

namespace hearth::backend_cpu::avx2 {

// Asks for the cache lines of [p, p + bytes) ahead of use. Decode streams each weight byte once
// from DRAM, and the hardware prefetchers alone left one thread at ~11 GB/s of the ~15 it can
// read (bench_kernels, 8192x8192 Q4_0); a software prefetch ~2 KB ahead reached 14. Prefetches
// never fault, so reading past the end of a group is harmless.
template <int64_t Bytes>
HEARTH_AVX2 inline void prefetch_lines(const void* p) {
  const auto* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < Bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
}

HEARTH_AVX2 inline __m256i broadcast_word(const int8_t* p) {
  int32_t w;
  std::memcpy(&w, p, sizeof w);
  return _mm256_set1_epi32(w);
}

// Four words' levels (below 32) times the activation bytes a[0..15], summed per row in int16: at
// most 4 x 2 x 31 x 128 = 31744. The GEMMs of Q2_K, Q3_K and Q5_K share one order of additions.
HEARTH_AVX2 inline __m256i four_word_sums16(const __m256i (&levels)[4], const int8_t* a) {
  const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(levels[0], broadcast_word(a)),
                                       _mm256_maddubs_epi16(levels[1], broadcast_word(a + 4)));
  const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(levels[2], broadcast_word(a + 8)),
                                       _mm256_maddubs_epi16(levels[3], broadcast_word(a + 12)));
  return _mm256_add_epi16(p01, p23);
}

HEARTH_AVX2 inline __m256 group_scales(const Half* d) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d)));
}

// Eight rows' bytes, each row's as an int16 in both halves of its int32 lane (madd's pairs):
// each byte doubled, then widened.
HEARTH_AVX2 inline __m256i row_scales(const uint8_t* bytes) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}

// The same from signed bytes (Q6_K's scales), sign-extended.
HEARTH_AVX2 inline __m256i row_scales(const int8_t* bytes) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes));
  return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(v, v));
}

HEARTH_AVX2 inline __m256i low_bits(__m256i v, int shift, int mask) {
  return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(static_cast<char>(mask)));
}

// Q6_K's level k (0..3) of eight rows' 32-byte word: the low (k < 2) or high nibbles of its ql
// word (ql0 for even k, ql1 for odd) with bits 2 k, 2 k + 1 of its qh word as bits 4, 5. The qh
// bits go to place with one 16-bit shift and a byte mask: what the shift carries across a byte
// boundary lands outside bits 4, 5 and is masked off.
HEARTH_AVX2 inline __m256i q6_k_level(__m256i ql, __m256i qh, int k) {
  const __m256i low = k < 2 ? _mm256_and_si256(ql, _mm256_set1_epi8(0x0F)) : low_bits(ql, 4, 0x0F);
  const __m256i placed = k == 0   ? _mm256_slli_epi16(qh, 4)
                         : k == 1 ? _mm256_slli_epi16(qh, 2)
                         : k == 2 ? qh
                                  : _mm256_srli_epi16(qh, 2);
  return _mm256_or_si256(low, _mm256_and_si256(placed, _mm256_set1_epi8(0x30)));
}

// Per row, the sum over a super-block's sixteen 16-element groups of a per-group factor times the
// group's activation sum (Q8_K bsums): Q6_K's and Q3_K's offset terms (factor = scale) and Q2_K's
// min term (factor = min). Two groups per madd (the pair of factors of a row in its int32 lane
// against the pair of bsums broadcast). Integer and exact, so any grouping gives the same value;
// the GEMV and the GEMM both call it.
struct GroupScalePairs {
  __m256i pair[kQK_K / 32];  // pair i: rows' (factor 2 i, factor 2 i + 1) as int16
};

template <class Group>
HEARTH_AVX2 inline GroupScalePairs group_scale_pairs(const Group& g) {
  GroupScalePairs p;
  for (int i = 0; i < kQK_K / 32; ++i) {
    const __m128i even = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.scales[2 * i]));
    const __m128i odd = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.scales[2 * i + 1]));
    p.pair[i] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(even, odd));
  }
  return p;
}

HEARTH_AVX2 inline __m256i group_bsum_products(const GroupScalePairs& p, const BlockQ8_K& a) {
  __m256i offset = _mm256_setzero_si256();
  for (int i = 0; i < kQK_K / 32; ++i) {
    int32_t bsum_pair;
    std::memcpy(&bsum_pair, a.bsums + 2 * i, sizeof bsum_pair);
    offset = _mm256_add_epi32(offset, _mm256_madd_epi16(p.pair[i], _mm256_set1_epi32(bsum_pair)));
  }
  return offset;
}

// Q4_K's (and Q5_K's) min term for one super-block of eight rows against one Q8_K activation
// block: madd of each row's two mins of a sub-block pair with the pair's two bsum totals (int32
// lane r = row r). The GEMV and the GEMM both call it, so their bits agree.
template <class Group>
HEARTH_AVX2 inline __m256i q4_k_min_products(const Group& g, const BlockQ8_K& a) {
  // Lane k of each 128-bit half: bsums 2k + 2k+1, i.e. sub-block totals 0..3 then 4..7.
  const __m256i bsums = load32(a.bsums);
  const __m256i totals = _mm256_hadd_epi16(bsums, bsums);
  __m256i mins = _mm256_setzero_si256();
  for (int q = 0; q < 4; ++q) {
    const __m256i pair = _mm256_permutevar8x32_epi32(totals, _mm256_set1_epi32(q < 2 ? q : q + 2));
    const __m256i row_mins =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g.mins[q])));
    mins = _mm256_add_epi32(mins, _mm256_madd_epi16(row_mins, pair));
  }
  return mins;
}

// Q5_K's 5-bit levels (0..31) of sub-block s for eight rows' quants word and the matching qh
// word: the low (even s) or high nibbles, with bit s of the qh byte as bit 4. One 16-bit shift
// moves bit s to bit 4 of the same byte (a shift by at most 4 brings in no bit of the other byte
// there), and the byte mask drops the rest.
HEARTH_AVX2 inline __m256i q5_k_fifth_bits(__m256i qh, int s) {
  const __m256i placed = s < 4    ? _mm256_slli_epi16(qh, 4 - s)
                         : s == 4 ? qh
                                  : _mm256_srli_epi16(qh, s - 4);
  return _mm256_and_si256(placed, _mm256_set1_epi8(0x10));
}

HEARTH_AVX2 inline __m256i q5_k_level(__m256i qs, __m256i qh, int s) {
  const __m256i nibbles =
      s % 2 == 0 ? _mm256_and_si256(qs, _mm256_set1_epi8(0x0F)) : low_bits(qs, 4, 0x0F);
  return _mm256_or_si256(nibbles, q5_k_fifth_bits(qh, s));
}

// Q5_0's levels (0..31) of quants word j: the low (lo) or high nibbles with the fifth bits of the
// transposed qh word (interleaved_rows.hpp) at bit 4, Q5_K's levels of sub-block 2 j or 2 j + 1.
HEARTH_AVX2 inline __m256i q5_0_level(__m256i qs, __m256i qh, int j, bool lo) {
  return q5_k_level(qs, qh, lo ? 2 * j : 2 * j + 1);
}

// Q4_1's (Q5_1's) levels of quants word j: the low (lo) or high nibbles, with the fifth bits as
// Q5_0's where the group has them.
template <class Group>
HEARTH_AVX2 inline __m256i affine_legacy_level(__m256i qs, __m256i qh, int j, bool lo) {
  if constexpr (requires(Group g) { g.qh; }) return q5_0_level(qs, qh, j, lo);
  return lo ? _mm256_and_si256(qs, _mm256_set1_epi8(0x0F)) : low_bits(qs, 4, 0x0F);
}

// Q4_1's (Q5_1's) qh word of group block g, or zero where it has none.
template <class Group>
HEARTH_AVX2 inline __m256i affine_legacy_qh(const Group& g) {
  if constexpr (requires { g.qh; }) return load32(g.qh);
  return _mm256_setzero_si256();
}

// One block's float terms of Q4_1 (Q5_1) for eight rows: acc + d_w * d_a * sumi, then + m * s.
// The GEMV and the GEMM both call it, so their bits agree.
template <class Group>
HEARTH_AVX2 inline __m256 affine_legacy_step(const Group& g, const ActivationBlockInfo& a,
                                             __m256i sumi, __m256 acc) {
  const __m256 d = _mm256_mul_ps(group_scales(g.d), _mm256_set1_ps(a.d));
  acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
  return _mm256_fmadd_ps(group_scales(g.m), _mm256_set1_ps(a.s), acc);
}

// Q2_K's scales (low nibbles of the packed bytes) of eight rows, as row_scales gives them.
HEARTH_AVX2 inline __m256i q2_k_row_scales(const uint8_t* bytes) {
  const __m128i v =
      _mm_and_si128(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)), _mm_set1_epi8(0x0F));
  return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}

// Q2_K's mins (high nibbles) as group_bsum_products's pairs: the min term sum_s min[s] * bsums[s]
// is group_bsum_products of these.
HEARTH_AVX2 inline GroupScalePairs q2_k_min_pairs(const BlockQ2_Kx8& g) {
  GroupScalePairs p;
  for (int i = 0; i < kQK_K / 32; ++i) {
    const __m128i even = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.scales[2 * i]));
    const __m128i odd = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(g.scales[2 * i + 1]));
    const __m128i mins =
        _mm_and_si128(_mm_srli_epi16(_mm_unpacklo_epi8(even, odd), 4), _mm_set1_epi8(0x0F));
    p.pair[i] = _mm256_cvtepu8_epi16(mins);
  }
  return p;
}

// Q3_K's levels (0..7) of field k (bits 2 k, 2 k + 1) of eight rows' quants word, with bit g of
// the matching hmask word as bit 2. A 16-bit shift moves each to its place within its own byte
// (bit g to bit 2 takes a shift of at most 5, so nothing of the other byte lands on bit 2, and
// what lands above bit 1 of the quants is masked off).
HEARTH_AVX2 inline __m256i q3_k_high_bits(__m256i hmask, int g) {
  const __m256i placed = g < 2    ? _mm256_slli_epi16(hmask, 2 - g)
                         : g == 2 ? hmask
                                  : _mm256_srli_epi16(hmask, g - 2);
  return _mm256_and_si256(placed, _mm256_set1_epi8(0x04));
}

// Q2_K's levels (0..3), the low part of Q3_K's: field k (bits 2 k, 2 k + 1) of a quants word.
HEARTH_AVX2 inline __m256i q2_k_level(__m256i qs, int k) {
  return k == 0 ? _mm256_and_si256(qs, _mm256_set1_epi8(3)) : low_bits(qs, 2 * k, 3);
}

HEARTH_AVX2 inline __m256i q3_k_level(__m256i qs, __m256i hmask, int k, int g) {
  return _mm256_or_si256(q2_k_level(qs, k), q3_k_high_bits(hmask, g));
}

}  // namespace hearth::backend_cpu::avx2

// AVX2 GEMV over 8 interleaved rows (interleaved_rows.hpp): per 32-element block, each 4-byte
// activation word is broadcast and multiplied with the matching word of all 8 rows in one
// maddubs, so int32 lane r accumulates row r; one FMA per block scales all 8 rows. The K-quants
// do the same per 256-element super-block, their sub-block scales applied per row in int32.
#include "interleaved_avx2.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

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
    prefetch_lines<sizeof(BlockQ4_0x8)>(w + ib + 16);
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

// Q5_0: levels 0..31; a maddubs pair is at most 2 * 31 * 128 = 7936, so two words (four pairs
// per int16 lane, 31744) sum in int16 before madd widens them. The row's -16 comes off as
// 16 * sum(activation quants) = 2 * sum8, exactly, in int32.
HEARTH_AVX2 void gemv_q5_0x8_q8_0_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ5_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    prefetch_lines<sizeof(BlockQ5_0x8)>(w + ib + 12);
    const __m256i qh = load32(w[ib].qh);
    __m256i sum32 = _mm256_setzero_si256();
    // Unrolled so that each word's shifts are immediates.
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      __m256i sum16 = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int jj = 0; jj < 2; ++jj) {
        const int j = 2 * p + jj;
        const __m256i qs = load32(w[ib].qs + 32 * j);
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(q5_0_level(qs, qh, j, true),
                                                             broadcast_word(y[ib].qs + 4 * j)));
        sum16 =
            _mm256_add_epi16(sum16, _mm256_maddubs_epi16(q5_0_level(qs, qh, j, false),
                                                         broadcast_word(y[ib].qs + 16 + 4 * j)));
      }
      sum32 = _mm256_add_epi32(sum32, _mm256_madd_epi16(sum16, ones));
    }
    sum32 = _mm256_sub_epi32(sum32, _mm256_set1_epi32(2 * info[ib].sum8));
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Q4_1 (and Q5_1): levels 0..15 (0..31) and no offset, the min coming in as m * s per block.
// Q5_0's int16 bound holds for both, and they share its two-word int16 sums.
template <class Group>
HEARTH_AVX2 void gemv_affine_legacy_avx2(int64_t n_in, const void* group, const void* activations,
                                         const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const Group*>(group);
  const auto* y = static_cast<const BlockQ8_1*>(activations);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    prefetch_lines<sizeof(Group)>(w + ib + 12);
    const __m256i qh = affine_legacy_qh(w[ib]);
    __m256i sum32 = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      __m256i sum16 = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int jj = 0; jj < 2; ++jj) {
        const int j = 2 * p + jj;
        const __m256i qs = load32(w[ib].qs + 32 * j);
        sum16 = _mm256_add_epi16(sum16,
                                 _mm256_maddubs_epi16(affine_legacy_level<Group>(qs, qh, j, true),
                                                      broadcast_word(y[ib].qs + 4 * j)));
        sum16 = _mm256_add_epi16(sum16,
                                 _mm256_maddubs_epi16(affine_legacy_level<Group>(qs, qh, j, false),
                                                      broadcast_word(y[ib].qs + 16 + 4 * j)));
      }
      sum32 = _mm256_add_epi32(sum32, _mm256_madd_epi16(sum16, ones));
    }
    acc = affine_legacy_step(w[ib], info[ib], sum32, acc);
  }
  _mm256_storeu_ps(out, acc);
}

HEARTH_AVX2 void gemv_q4_1x8_q8_1_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* info, float* out) {
  gemv_affine_legacy_avx2<BlockQ4_1x8>(n_in, group, activations, info, out);
}

HEARTH_AVX2 void gemv_q5_1x8_q8_1_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* info, float* out) {
  gemv_affine_legacy_avx2<BlockQ5_1x8>(n_in, group, activations, info, out);
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
    prefetch_lines<sizeof(BlockQ8_0x8)>(w + ib + 8);
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

// Q2_K: levels 0..3. A maddubs pair is at most 2 * 3 * 128 = 768, so the four words of a
// 16-element group sum in int16 (3072) before madd with the group's scale widens them; the min
// term sum_s min[s] * bsums[s] is Q6_K's offset helper on the mins.
HEARTH_AVX2 void gemv_q2_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ2_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ2_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    prefetch_lines<sizeof(BlockQ2_Kx8)>(w + ib + 2);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p16[4];
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i qs = load32(g.qs[h][j]);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            const __m256i p = _mm256_maddubs_epi16(q2_k_level(qs, k),
                                                   broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
            p16[k] = jj == 0 ? p : _mm256_add_epi16(p16[k], p);
          }
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16[k], q2_k_row_scales(g.scales[s])));
        }
      }
    }
    const __m256i mins = group_bsum_products(q2_k_min_pairs(g), a);
    const __m256 ad = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), ad), _mm256_cvtepi32_ps(sumi), acc);
    acc_mins = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.dmin), ad), _mm256_cvtepi32_ps(mins),
                               acc_mins);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_mins));
}

// Q3_K: levels 0..7 (the row's -4 comes off as 4 * sum_s scale[s] * bsums[s], Q6_K's helper).
// A maddubs pair is at most 2 * 7 * 128 = 1792, so the four words of a 16-element group sum in
// int16 (7168) before madd with the group's int8 scale widens them to int32.
HEARTH_AVX2 void gemv_q3_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ3_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ3_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    prefetch_lines<sizeof(BlockQ3_Kx8)>(w + ib + 2);
    __m256i sumi = _mm256_setzero_si256();
    // Unrolled so that each field's shifts are immediates.
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p16[4];
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i qs = load32(g.qs[h][j]);
          const __m256i hmask = load32(g.hmask[j]);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k) {
            const __m256i p = _mm256_maddubs_epi16(q3_k_level(qs, hmask, k, 4 * h + k),
                                                   broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
            p16[k] = jj == 0 ? p : _mm256_add_epi16(p16[k], p);
          }
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16[k], row_scales(g.scales[s])));
        }
      }
    }
    const __m256i offset = group_bsum_products(group_scale_pairs(g), a);
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 2));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), _mm256_set1_ps(a.d)),
                          _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Q4_K: per 32-element sub-block the 8 maddubs of nibbles (0..15) with activations (-128..127)
// sum at most 8 * 2 * 15 * 128 = 30720 per int16 lane; madd with the row's 6-bit scale (held
// twice, once per int16 half of the row's int32 lane) widens to int32. The min term is
// sum_s min[s] * (sum of the activation's 32 quants of s), from the Q8_K block's 16-element
// bsums: madd of each row's two mins of a sub-block pair with the pair's two bsum totals.
HEARTH_AVX2 void gemv_q4_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ4_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ4_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    prefetch_lines<sizeof(BlockQ4_Kx8)>(w + ib + 2);
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i lo16 = _mm256_setzero_si256();
      __m256i hi16 = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i packed = load32(g.qs + 256 * p + 32 * j);
        const __m256i lo = _mm256_and_si256(packed, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        lo16 =
            _mm256_add_epi16(lo16, _mm256_maddubs_epi16(lo, broadcast_word(a.qs + 64 * p + 4 * j)));
        hi16 = _mm256_add_epi16(
            hi16, _mm256_maddubs_epi16(hi, broadcast_word(a.qs + 64 * p + 32 + 4 * j)));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo16, row_scales(g.scales[2 * p])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi16, row_scales(g.scales[2 * p + 1])));
    }
    const __m256i mins = q4_k_min_products(g, a);
    const __m256 ad = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), ad), _mm256_cvtepi32_ps(sumi), acc);
    acc_mins = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.dmin), ad), _mm256_cvtepi32_ps(mins),
                               acc_mins);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_mins));
}

// Q5_K: Q4_K's kernel with 5-bit levels (0..31). A maddubs pair is at most 2 * 31 * 128 = 7936,
// so only four words are summed in int16 (31744) before madd with the row's scale widens them:
// two madds per sub-block where Q4_K has one.
HEARTH_AVX2 void gemv_q5_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ5_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ5_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    prefetch_lines<sizeof(BlockQ5_Kx8)>(w + ib + 2);
    __m256i sumi = _mm256_setzero_si256();
    // Unrolled so that each quarter's qh shifts are immediates.
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      const __m256i lo_scales = row_scales(g.scales[2 * p]);
      const __m256i hi_scales = row_scales(g.scales[2 * p + 1]);
      for (int half = 0; half < 2; ++half) {
        __m256i lo16 = _mm256_setzero_si256();
        __m256i hi16 = _mm256_setzero_si256();
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i qs = load32(g.qs + 256 * p + 32 * j);
          const __m256i qh = load32(g.qh[j]);
          lo16 =
              _mm256_add_epi16(lo16, _mm256_maddubs_epi16(q5_k_level(qs, qh, 2 * p),
                                                          broadcast_word(a.qs + 64 * p + 4 * j)));
          hi16 = _mm256_add_epi16(hi16,
                                  _mm256_maddubs_epi16(q5_k_level(qs, qh, 2 * p + 1),
                                                       broadcast_word(a.qs + 64 * p + 32 + 4 * j)));
        }
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo16, lo_scales));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi16, hi_scales));
      }
    }
    const __m256i mins = q4_k_min_products(g, a);
    const __m256 ad = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), ad), _mm256_cvtepi32_ps(sumi), acc);
    acc_mins = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.dmin), ad), _mm256_cvtepi32_ps(mins),
                               acc_mins);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_mins));
}

// Q6_K: levels 0..63 (the row's -32 comes off as 32 * sum_s scale[s] * bsums[s]). A maddubs
// pair is at most 2 * 63 * 128 = 16128, so only two words of a 16-element group are summed in
// int16 (32256) before madd with the group's int8 scale widens them to int32.
HEARTH_AVX2 void gemv_q6_kx8_q8_k_avx2(int64_t n_in, const void* group, const void* activations,
                                       const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ6_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ6_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    prefetch_lines<sizeof(BlockQ6_Kx8)>(w + ib + 2);
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p16[4][2];
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i ql0 = load32(g.q[h][j][0]);
          const __m256i ql1 = load32(g.q[h][j][1]);
          const __m256i qh = load32(g.q[h][j][2]);
          const __m256i q[4] = {q6_k_level(ql0, qh, 0), q6_k_level(ql1, qh, 1),
                                q6_k_level(ql0, qh, 2), q6_k_level(ql1, qh, 3)};
          for (int k = 0; k < 4; ++k) {
            const __m256i p =
                _mm256_maddubs_epi16(q[k], broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
            p16[k][jj / 2] = jj % 2 == 0 ? p : _mm256_add_epi16(p16[k][jj / 2], p);
          }
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          const __m256i sc = row_scales(g.scales[s]);
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16[k][0], sc));
          sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16[k][1], sc));
        }
      }
    }
    const __m256i offset = group_bsum_products(group_scale_pairs(g), a);
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), _mm256_set1_ps(a.d)),
                          _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace hearth::backend_cpu

// AVX-512 VNNI GEMV over 8 interleaved rows (interleaved_rows.hpp): interleaved_gemv_avx2.cpp
// with each maddubs + madd pair (and AVX2's 16-bit partial sums) replaced by one vpdpbusd into
// int32 lanes. Same integer sums, same float operations: the AVX2 kernel's bits
// (interleaved_avx512.hpp says why).
#include "interleaved_avx512.hpp"

namespace hearth::backend_cpu {

using namespace avx2;
using namespace avx512;

// Nibbles (0..15) times signed activations; the offset of 8 comes off as 8 * sum(quants). The
// low and high nibbles sum in two accumulators so that the two dpbusd chains overlap.
HEARTH_AVX512 void gemv_q4_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ4_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    __m256i sum_lo = _mm256_setzero_si256();
    __m256i sum_hi = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i packed = load32(w[ib].qs + 32 * j);
      const __m256i lo = _mm256_and_si256(packed, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
      sum_lo = dot_add(sum_lo, lo, broadcast_word(y[ib].qs + 4 * j));
      sum_hi = dot_add(sum_hi, hi, broadcast_word(y[ib].qs + 16 + 4 * j));
    }
    const __m256i sum32 =
        _mm256_sub_epi32(_mm256_add_epi32(sum_lo, sum_hi), _mm256_set1_epi32(info[ib].sum8));
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Q5_0: levels 0..31 times signed activations, the -16 off as 2 * sum8 (the AVX2 kernel's sums).
HEARTH_AVX512 void gemv_q5_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ5_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = load32(w[ib].qh);
    __m256i sum_lo = _mm256_setzero_si256();
    __m256i sum_hi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i qs = load32(w[ib].qs + 32 * j);
      sum_lo = dot_add(sum_lo, q5_0_levels(qs, qh, j, true), broadcast_word(y[ib].qs + 4 * j));
      sum_hi =
          dot_add(sum_hi, q5_0_levels(qs, qh, j, false), broadcast_word(y[ib].qs + 16 + 4 * j));
    }
    const __m256i sum32 =
        _mm256_sub_epi32(_mm256_add_epi32(sum_lo, sum_hi), _mm256_set1_epi32(2 * info[ib].sum8));
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Q4_1 (and Q5_1): the AVX2 kernel's integer sums by dpbusd, its float terms by the same helper.
template <class Group>
HEARTH_AVX512 void gemv_affine_legacy_avx512(int64_t n_in, const void* group,
                                             const void* activations,
                                             const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const Group*>(group);
  const auto* y = static_cast<const BlockQ8_1*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = affine_legacy_qh(w[ib]);
    __m256i sum_lo = _mm256_setzero_si256();
    __m256i sum_hi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i qs = load32(w[ib].qs + 32 * j);
      sum_lo = dot_add(sum_lo, affine_legacy_levels<Group>(qs, qh, j, true),
                       broadcast_word(y[ib].qs + 4 * j));
      sum_hi = dot_add(sum_hi, affine_legacy_levels<Group>(qs, qh, j, false),
                       broadcast_word(y[ib].qs + 16 + 4 * j));
    }
    acc = affine_legacy_step(w[ib], info[ib], _mm256_add_epi32(sum_lo, sum_hi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

HEARTH_AVX512 void gemv_q4_1x8_q8_1_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* info, float* out) {
  gemv_affine_legacy_avx512<BlockQ4_1x8>(n_in, group, activations, info, out);
}

HEARTH_AVX512 void gemv_q5_1x8_q8_1_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* info, float* out) {
  gemv_affine_legacy_avx512<BlockQ5_1x8>(n_in, group, activations, info, out);
}

// Signed times signed: dpbusd takes the weights as unsigned q + 128 (q ^ 0x80), and the 128 *
// sum(activation quants) that adds comes off exactly as 16 * sum8 (activations are -127..127,
// so a lane's 4 products stay far inside int32).
HEARTH_AVX512 void gemv_q8_0x8_q8_0_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* info, float* out) {
  const auto* w = static_cast<const BlockQ8_0x8*>(group);
  const auto* y = static_cast<const BlockQ8_0*>(activations);
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int j = 0; j < 8; ++j) {
      const __m256i biased = _mm256_xor_si256(load32(w[ib].qs + 32 * j), bias);
      sum[j % 2] = dot_add(sum[j % 2], biased, broadcast_word(y[ib].qs + 4 * j));
    }
    const __m256i sum32 =
        _mm256_sub_epi32(_mm256_add_epi32(sum[0], sum[1]), _mm256_set1_epi32(16 * info[ib].sum8));
    const __m256 d = _mm256_mul_ps(group_scales(w[ib].d), _mm256_set1_ps(info[ib].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc);
  }
  _mm256_storeu_ps(out, acc);
}

// Q2_K: levels 0..3; per 16-element group the 4 dpbusd sum in int32, then one multiply by the
// rows' scale; the min term is the AVX2 kernels' helper.
HEARTH_AVX512 void gemv_q2_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ2_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ2_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p32[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i qs = load32(g.qs[h][j]);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k)
            p32[k] =
                dot_add(p32[k], q2_k_level(qs, k), broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p32[k], q2_k_row_scales32(g.scales[s])));
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

// Q3_K: levels 0..7 (the row's -4 comes off as 4 * sum_s scale[s] * bsums[s], the AVX2
// kernels' helper); per 16-element group the 4 dpbusd sum in int32, then one multiply by the
// rows' int8 scale.
HEARTH_AVX512 void gemv_q3_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ3_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ3_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    __m256i sumi = _mm256_setzero_si256();
    // Unrolled so that each field's shifts are immediates.
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p32[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i qs = load32(g.qs[h][j]);
          const __m256i hmask = load32(g.hmask[j]);
#pragma GCC unroll 4
          for (int k = 0; k < 4; ++k)
            p32[k] = dot_add(p32[k], q3_k_levels(qs, hmask, k, 4 * h + k),
                             broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p32[k], row_scales32(g.scales[s])));
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

// Q4_K: per 32-element sub-block the 8 dpbusd of nibbles with activations sum in int32, then
// one multiply by the rows' 6-bit scales; the min term is the AVX2 kernel's helper.
HEARTH_AVX512 void gemv_q4_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ4_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ4_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i lo32 = _mm256_setzero_si256();
      __m256i hi32 = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i packed = load32(g.qs + 256 * p + 32 * j);
        const __m256i lo = _mm256_and_si256(packed, low4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        lo32 = dot_add(lo32, lo, broadcast_word(a.qs + 64 * p + 4 * j));
        hi32 = dot_add(hi32, hi, broadcast_word(a.qs + 64 * p + 32 + 4 * j));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(lo32, row_scales32(g.scales[2 * p])));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(hi32, row_scales32(g.scales[2 * p + 1])));
    }
    const __m256i mins = q4_k_min_products(g, a);
    const __m256 ad = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), ad), _mm256_cvtepi32_ps(sumi), acc);
    acc_mins = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.dmin), ad), _mm256_cvtepi32_ps(mins),
                               acc_mins);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_mins));
}

// Q5_K: Q4_K's kernel with 5-bit levels; dpbusd sums all 8 words of a sub-block in int32.
HEARTH_AVX512 void gemv_q5_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ5_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  __m256 acc_mins = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ5_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    __m256i sumi = _mm256_setzero_si256();
    // Unrolled so that each quarter's qh shifts are immediates.
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p) {
      __m256i lo32 = _mm256_setzero_si256();
      __m256i hi32 = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i qs = load32(g.qs + 256 * p + 32 * j);
        const __m256i qh = load32(g.qh[j]);
        lo32 = dot_add(lo32, q5_k_levels(qs, qh, 2 * p), broadcast_word(a.qs + 64 * p + 4 * j));
        hi32 = dot_add(hi32, q5_k_levels(qs, qh, 2 * p + 1),
                       broadcast_word(a.qs + 64 * p + 32 + 4 * j));
      }
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(lo32, row_scales32(g.scales[2 * p])));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(hi32, row_scales32(g.scales[2 * p + 1])));
    }
    const __m256i mins = q4_k_min_products(g, a);
    const __m256 ad = _mm256_set1_ps(a.d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), ad), _mm256_cvtepi32_ps(sumi), acc);
    acc_mins = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.dmin), ad), _mm256_cvtepi32_ps(mins),
                               acc_mins);
  }
  _mm256_storeu_ps(out, _mm256_sub_ps(acc, acc_mins));
}

// Q6_K: levels 0..63 (the row's -32 comes off as 32 * sum_s scale[s] * bsums[s]); per
// 16-element group the 4 dpbusd sum in int32, then one multiply by the rows' int8 scale.
HEARTH_AVX512 void gemv_q6_kx8_q8_k_avx512(int64_t n_in, const void* group, const void* activations,
                                           const ActivationBlockInfo* /*info*/, float* out) {
  const auto* w = static_cast<const BlockQ6_Kx8*>(group);
  const auto* y = static_cast<const BlockQ8_K*>(activations);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ6_Kx8& g = w[ib];
    const BlockQ8_K& a = y[ib];
    __m256i sumi = _mm256_setzero_si256();
    __m256i offset = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {  // elements 0..15, then 16..31, of each 32
        __m256i p32[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          const __m256i ql0 = load32(g.q[h][j][0]);
          const __m256i ql1 = load32(g.q[h][j][1]);
          const __m256i qh = load32(g.q[h][j][2]);
          for (int k = 0; k < 4; ++k)
            p32[k] = dot_add(p32[k], q6_k_levels(k % 2 == 0 ? ql0 : ql1, qh, k),
                             broadcast_word(a.qs + 128 * h + 32 * k + 4 * j));
        }
        for (int k = 0; k < 4; ++k) {
          const int s = 8 * h + 2 * k + half;
          const __m256i sc = row_scales32(g.scales[s]);
          sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p32[k], sc));
          offset = _mm256_add_epi32(offset, _mm256_mullo_epi32(sc, _mm256_set1_epi32(a.bsums[s])));
        }
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_mul_ps(group_scales(g.d), _mm256_set1_ps(a.d)),
                          _mm256_cvtepi32_ps(sumi), acc);
  }
  _mm256_storeu_ps(out, acc);
}

}  // namespace hearth::backend_cpu

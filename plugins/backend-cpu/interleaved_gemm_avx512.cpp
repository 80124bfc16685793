// AVX-512 VNNI GEMM over 8 interleaved rows and 8 or 4 activation rows: the prompt's
// counterpart of interleaved_gemv_avx512.cpp, structured as interleaved_gemm_avx2.cpp (each
// weight load unpacked once and shared by the tokens). Every token runs the AVX-512 GEMV's
// arithmetic, whose bits are the AVX2 GEMV's, so MATMUL's mix of GEMM and GEMV gives the same
// values on either path.
#include "interleaved_avx512.hpp"

namespace hearth::backend_cpu {

using namespace avx2;
using namespace avx512;

namespace {

template <class Block>
const Block* token_blocks(const char* activations, int64_t stride, int t) {
  return reinterpret_cast<const Block*>(activations + t * stride);
}

// An empty asm that takes v in a vector register (any of AVX-512's 32): the compiler cannot
// regroup a running sum into a tree of products and spill them (interleaved_gemm_avx2.cpp).
HEARTH_AVX512 inline void pin(__m256i& v) { asm("" : "+v"(v)); }

template <int kT>
HEARTH_AVX512 inline void store_tokens(const __m256 (&acc)[kT], float (*res)[kInterleavedRows]) {
  for (int t = 0; t < kT; ++t) _mm256_storeu_ps(res[t], acc[t]);
}

template <int kT>
HEARTH_AVX512 void gemm_q4_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* info,
                                           int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ4_0x8*>(group);
  const BlockQ8_0* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_0>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    // Each weight word unpacked once and taken by every token before the next (one word live).
    __m256i sum[kT];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i packed = load32(w[ib].qs + 32 * j);
      const __m256i lo = _mm256_and_si256(packed, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const int8_t* a = y[t][ib].qs;
        sum[t] = dot_add(j == 0 ? _mm256_setzero_si256() : sum[t], lo, broadcast_word(a + 4 * j));
        sum[t] = dot_add(sum[t], hi, broadcast_word(a + 16 + 4 * j));
        pin(sum[t]);
      }
    }
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      const __m256i sum32 = _mm256_sub_epi32(sum[t], _mm256_set1_epi32(yi[t][ib].sum8));
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q5_0: Q4_0's order with the GEMV's 5-bit levels and its -16 off as 2 * sum8.
template <int kT>
HEARTH_AVX512 void gemm_q5_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* info,
                                           int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ5_0x8*>(group);
  const BlockQ8_0* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_0>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = load32(w[ib].qh);
    __m256i sum[kT];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i qs = load32(w[ib].qs + 32 * j);
      const __m256i lo = q5_0_levels(qs, qh, j, true);
      const __m256i hi = q5_0_levels(qs, qh, j, false);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const int8_t* a = y[t][ib].qs;
        sum[t] = dot_add(j == 0 ? _mm256_setzero_si256() : sum[t], lo, broadcast_word(a + 4 * j));
        sum[t] = dot_add(sum[t], hi, broadcast_word(a + 16 + 4 * j));
        pin(sum[t]);
      }
    }
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      const __m256i sum32 = _mm256_sub_epi32(sum[t], _mm256_set1_epi32(2 * yi[t][ib].sum8));
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q4_1 (and Q5_1): Q5_0's order, the GEMV's float terms per token.
template <class Group, int kT>
HEARTH_AVX512 void gemm_affine_legacy_tokens(int64_t n_in, const void* group,
                                             const char* activations, int64_t act_stride,
                                             const ActivationBlockInfo* info, int64_t info_stride,
                                             float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const Group*>(group);
  const BlockQ8_1* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_1>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = affine_legacy_qh(w[ib]);
    __m256i sum[kT];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i qs = load32(w[ib].qs + 32 * j);
      const __m256i lo = affine_legacy_levels<Group>(qs, qh, j, true);
      const __m256i hi = affine_legacy_levels<Group>(qs, qh, j, false);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const int8_t* a = y[t][ib].qs;
        sum[t] = dot_add(j == 0 ? _mm256_setzero_si256() : sum[t], lo, broadcast_word(a + 4 * j));
        sum[t] = dot_add(sum[t], hi, broadcast_word(a + 16 + 4 * j));
        pin(sum[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) acc[t] = affine_legacy_step(w[ib], yi[t][ib], sum[t], acc[t]);
  }
  store_tokens(acc, res);
}

// The GEMV's biased weights (q ^ 0x80 = q + 128), made once per block for all tokens, so each
// token's word costs one dpbusd; 16 * sum8 takes the bias off exactly.
template <int kT>
HEARTH_AVX512 void gemm_q8_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* info,
                                           int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ8_0x8*>(group);
  const BlockQ8_0* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_0>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    __m256i biased[8];
    for (int j = 0; j < 8; ++j) biased[j] = _mm256_xor_si256(load32(w[ib].qs + 32 * j), bias);
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 4
    for (int t = 0; t < kT; ++t) {
      const int8_t* a = y[t][ib].qs;
      __m256i sum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j)
        sum[j % 2] = dot_add(sum[j % 2], biased[j], broadcast_word(a + 4 * j));
      const __m256i sum32 = _mm256_sub_epi32(_mm256_add_epi32(sum[0], sum[1]),
                                             _mm256_set1_epi32(16 * yi[t][ib].sum8));
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q2_K: Q3_K's order with 2-bit levels; the min term once per super-block per token, as Q4_K's.
template <int kT>
HEARTH_AVX512 void gemm_q2_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                           int64_t /*info_stride*/,
                                           float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ2_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  __m256 acc[kT], acc_mins[kT];
  for (int t = 0; t < kT; ++t) acc[t] = acc_mins[t] = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ2_Kx8& g = w[ib];
    __m256i sumi[kT];
    for (auto& s : sumi) s = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          __m256i levels[4];
          for (int jj = 0; jj < 4; ++jj) levels[jj] = q2_k_level(load32(g.qs[h][4 * half + jj]), k);
          const __m256i sc = q2_k_row_scales32(g.scales[8 * h + 2 * k + half]);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            sumi[t] =
                _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(four_word_sums32(levels, a), sc));
            pin(sumi[t]);
          }
        }
      }
    }
    const GroupScalePairs pairs = q2_k_min_pairs(g);
    const __m256 gd = group_scales(g.d);
    const __m256 gdmin = group_scales(g.dmin);
    for (int t = 0; t < kT; ++t) {
      const BlockQ8_K& a = y[t][ib];
      const __m256i mins = group_bsum_products(pairs, a);
      const __m256 ad = _mm256_set1_ps(a.d);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, ad), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc_mins[t] =
          _mm256_fmadd_ps(_mm256_mul_ps(gdmin, ad), _mm256_cvtepi32_ps(mins), acc_mins[t]);
    }
  }
  for (int t = 0; t < kT; ++t) _mm256_storeu_ps(res[t], _mm256_sub_ps(acc[t], acc_mins[t]));
}

// Q3_K: Q6_K's order. Per half h, 16-element half of each 32, and field k, the four words'
// levels are built once and shared by the tokens, each summing its 4 dpbusd in int32; the offset
// term is the AVX2 kernels' helper (8 madds per token where a multiply per group would take 16).
template <int kT>
HEARTH_AVX512 void gemm_q3_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                           int64_t /*info_stride*/,
                                           float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ3_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ3_Kx8& g = w[ib];
    __m256i sumi[kT];
    for (auto& s : sumi) s = _mm256_setzero_si256();
      // Unrolled so that each field's shifts are immediates.
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          __m256i levels[4];
          for (int jj = 0; jj < 4; ++jj) {
            const int j = 4 * half + jj;
            levels[jj] = q3_k_levels(load32(g.qs[h][j]), load32(g.hmask[j]), k, 4 * h + k);
          }
          const __m256i sc = row_scales32(g.scales[8 * h + 2 * k + half]);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            sumi[t] =
                _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(four_word_sums32(levels, a), sc));
          }
        }
      }
    }
    const GroupScalePairs pairs = group_scale_pairs(g);
    const __m256 gd = group_scales(g.d);
    for (int t = 0; t < kT; ++t) {
      const __m256i offset = group_bsum_products(pairs, y[t][ib]);
      const __m256i s = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(offset, 2));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, _mm256_set1_ps(y[t][ib].d)), _mm256_cvtepi32_ps(s),
                               acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q4_K: per 32-element sub-block s, each of the eight weight words is unpacked once and taken
// by every token (one dpbusd into its int32 sum) before the next word is unpacked, as the AVX2
// kernel does; each token's sum is then multiplied by the rows' scale of s.
template <int kT>
HEARTH_AVX512 void gemm_q4_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                           int64_t /*info_stride*/,
                                           float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ4_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[kT], acc_mins[kT];
  for (int t = 0; t < kT; ++t) acc[t] = acc_mins[t] = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ4_Kx8& g = w[ib];
    __m256i sumi[kT];
    for (auto& s : sumi) s = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
#pragma GCC unroll 2
      for (int high = 0; high < 2; ++high) {
        const int s = 2 * p + high;
        __m256i sum[kT];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const __m256i packed = load32(g.qs + 256 * p + 32 * j);
          const __m256i nibbles =
              _mm256_and_si256(high ? _mm256_srli_epi16(packed, 4) : packed, low4);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            sum[t] = dot_add(j == 0 ? _mm256_setzero_si256() : sum[t], nibbles,
                             broadcast_word(y[t][ib].qs + 32 * s + 4 * j));
            pin(sum[t]);
          }
        }
        const __m256i sc = row_scales32(g.scales[s]);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t)
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(sum[t], sc));
      }
    }
    const __m256 gd = group_scales(g.d);
    const __m256 gdmin = group_scales(g.dmin);
    for (int t = 0; t < kT; ++t) {
      const BlockQ8_K& a = y[t][ib];
      const __m256i mins = q4_k_min_products(g, a);
      const __m256 ad = _mm256_set1_ps(a.d);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, ad), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc_mins[t] =
          _mm256_fmadd_ps(_mm256_mul_ps(gdmin, ad), _mm256_cvtepi32_ps(mins), acc_mins[t]);
    }
  }
  for (int t = 0; t < kT; ++t) _mm256_storeu_ps(res[t], _mm256_sub_ps(acc[t], acc_mins[t]));
}

// Q5_K: Q4_K's kernel with each word's 5-bit levels built once and taken by every token.
template <int kT>
HEARTH_AVX512 void gemm_q5_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                           int64_t /*info_stride*/,
                                           float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ5_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  __m256 acc[kT], acc_mins[kT];
  for (int t = 0; t < kT; ++t) acc[t] = acc_mins[t] = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ5_Kx8& g = w[ib];
    __m256i sumi[kT];
    for (auto& s : sumi) s = _mm256_setzero_si256();
      // Unrolled so that each sub-block's qh shift is an immediate.
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      __m256i sum[kT];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const __m256i levels =
            q5_k_levels(load32(g.qs + 256 * (s / 2) + 32 * j), load32(g.qh[j]), s);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) {
          sum[t] = dot_add(j == 0 ? _mm256_setzero_si256() : sum[t], levels,
                           broadcast_word(y[t][ib].qs + 32 * s + 4 * j));
          pin(sum[t]);
        }
      }
      const __m256i sc = row_scales32(g.scales[s]);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t)
        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(sum[t], sc));
    }
    const __m256 gd = group_scales(g.d);
    const __m256 gdmin = group_scales(g.dmin);
    for (int t = 0; t < kT; ++t) {
      const BlockQ8_K& a = y[t][ib];
      const __m256i mins = q4_k_min_products(g, a);
      const __m256 ad = _mm256_set1_ps(a.d);
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, ad), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
      acc_mins[t] =
          _mm256_fmadd_ps(_mm256_mul_ps(gdmin, ad), _mm256_cvtepi32_ps(mins), acc_mins[t]);
    }
  }
  for (int t = 0; t < kT; ++t) _mm256_storeu_ps(res[t], _mm256_sub_ps(acc[t], acc_mins[t]));
}

// Q6_K: per half h, 16-element half of each 32, and k, the four words' 6-bit levels are decoded
// once and shared by the tokens, each summing its 4 dpbusd in int32.
template <int kT>
HEARTH_AVX512 void gemm_q6_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                           int64_t /*info_stride*/,
                                           float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ6_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ6_Kx8& g = w[ib];
    __m256i sumi[kT], offset[kT];
    for (int t = 0; t < kT; ++t) sumi[t] = offset[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
        for (int k = 0; k < 4; ++k) {
          __m256i levels[4];
          for (int jj = 0; jj < 4; ++jj) {
            const int j = 4 * half + jj;
            levels[jj] = q6_k_levels(load32(g.q[h][j][k % 2]), load32(g.q[h][j][2]), k);
          }
          const int s = 8 * h + 2 * k + half;
          const __m256i sc = row_scales32(g.scales[s]);
#pragma GCC unroll 4
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            sumi[t] =
                _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(four_word_sums32(levels, a), sc));
            offset[t] = _mm256_add_epi32(
                offset[t], _mm256_mullo_epi32(sc, _mm256_set1_epi32(y[t][ib].bsums[s])));
          }
        }
      }
    }
    const __m256 gd = group_scales(g.d);
    for (int t = 0; t < kT; ++t) {
      const __m256i s = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(offset[t], 5));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, _mm256_set1_ps(y[t][ib].d)), _mm256_cvtepi32_ps(s),
                               acc[t]);
    }
  }
  store_tokens(acc, res);
}

}  // namespace

constinit const InterleavedGemmFn gemm_q4_0x8_q8_0_avx512 =
    gemm_by_width<gemm_q4_0x8_q8_0_tokens<kGemmTokens>, gemm_q4_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q4_1x8_q8_1_avx512 =
    gemm_by_width<gemm_affine_legacy_tokens<BlockQ4_1x8, kGemmTokens>,
                  gemm_affine_legacy_tokens<BlockQ4_1x8, kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_1x8_q8_1_avx512 =
    gemm_by_width<gemm_affine_legacy_tokens<BlockQ5_1x8, kGemmTokens>,
                  gemm_affine_legacy_tokens<BlockQ5_1x8, kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_0x8_q8_0_avx512 =
    gemm_by_width<gemm_q5_0x8_q8_0_tokens<kGemmTokens>, gemm_q5_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q8_0x8_q8_0_avx512 =
    gemm_by_width<gemm_q8_0x8_q8_0_tokens<kGemmTokens>, gemm_q8_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q2_kx8_q8_k_avx512 =
    gemm_by_width<gemm_q2_kx8_q8_k_tokens<kGemmTokens>, gemm_q2_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q3_kx8_q8_k_avx512 =
    gemm_by_width<gemm_q3_kx8_q8_k_tokens<kGemmTokens>, gemm_q3_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q4_kx8_q8_k_avx512 =
    gemm_by_width<gemm_q4_kx8_q8_k_tokens<kGemmTokens>, gemm_q4_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_kx8_q8_k_avx512 =
    gemm_by_width<gemm_q5_kx8_q8_k_tokens<kGemmTokens>, gemm_q5_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q6_kx8_q8_k_avx512 =
    gemm_by_width<gemm_q6_kx8_q8_k_tokens<kGemmTokens>, gemm_q6_kx8_q8_k_tokens<kGemmTokensNarrow>>;

}  // namespace hearth::backend_cpu

// AVX2 GEMM over 8 interleaved rows (interleaved_rows.hpp) and 8 or 4 activation rows: the
// prompt's counterpart of interleaved_gemv_avx2.cpp. Each 32-byte load of the group's quants is
// unpacked once and multiplied with every token's broadcast activation word, so the unpacking
// and the weight loads are shared by the call's tokens instead of repeated per token.
//
// Every token runs exactly the GEMV's arithmetic: the same integer block sums (exact, so their
// order does not matter) and the same float operations in the same order per block. A value
// therefore has the same bits whether it came from here or from the GEMV, which is what lets
// MATMUL mix the two (remaining tokens, decode) without its results depending on the tiling.
#include "interleaved_avx2.hpp"

namespace hearth::backend_cpu {

using namespace avx2;

namespace {

template <class Block>
const Block* token_blocks(const char* activations, int64_t stride, int t) {
  return reinterpret_cast<const Block*>(activations + t * stride);
}

// An empty asm that takes v in a vector register: the compiler must have v's value at this
// point, so it cannot regroup a running sum into a tree of independent products (GCC does, and
// then keeps every product of a tile live on the stack).
HEARTH_AVX2 inline void pin(__m256i& v) { asm("" : "+x"(v)); }

template <int kT>
HEARTH_AVX2 inline void store_tokens(const __m256 (&acc)[kT], float (*res)[kInterleavedRows]) {
  for (int t = 0; t < kT; ++t) _mm256_storeu_ps(res[t], acc[t]);
}

template <int kT>
HEARTH_AVX2 void gemm_q4_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
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
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    // Each weight word unpacked once and taken by every token before the next (one word live;
    // the tokens' int16 sums hold the registers).
    __m256i sum16[kT];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i packed = load32(w[ib].qs + 32 * j);
      const __m256i lo = _mm256_and_si256(packed, low4);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const __m256i prod = _mm256_maddubs_epi16(lo, broadcast_word(y[t][ib].qs + 4 * j));
        sum16[t] = j == 0 ? prod : _mm256_add_epi16(sum16[t], prod);
        pin(sum16[t]);
      }
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        sum16[t] = _mm256_add_epi16(
            sum16[t], _mm256_maddubs_epi16(hi, broadcast_word(y[t][ib].qs + 16 + 4 * j)));
        pin(sum16[t]);
      }
    }
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      const __m256i sum32 =
          _mm256_sub_epi32(_mm256_madd_epi16(sum16[t], ones), _mm256_set1_epi32(yi[t][ib].sum8));
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q5_0: the GEMV's int16 sums per pair of words; the four levels of a pair made once and taken
// by every token.
template <int kT>
HEARTH_AVX2 void gemm_q5_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* info,
                                         int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ5_0x8*>(group);
  const BlockQ8_0* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_0>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = load32(w[ib].qh);
    __m256i sum32[kT];
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      __m256i level[4];  // words 2 p and 2 p + 1: low, high nibbles each
#pragma GCC unroll 2
      for (int jj = 0; jj < 2; ++jj) {
        const int j = 2 * p + jj;
        const __m256i qs = load32(w[ib].qs + 32 * j);
        level[2 * jj] = q5_0_level(qs, qh, j, true);
        level[2 * jj + 1] = q5_0_level(qs, qh, j, false);
      }
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const int8_t* a = y[t][ib].qs + 8 * p;
        __m256i sum16 = _mm256_maddubs_epi16(level[0], broadcast_word(a));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[1], broadcast_word(a + 16)));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[2], broadcast_word(a + 4)));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[3], broadcast_word(a + 20)));
        const __m256i prod = _mm256_madd_epi16(sum16, ones);
        sum32[t] = p == 0 ? prod : _mm256_add_epi32(sum32[t], prod);
        pin(sum32[t]);
      }
    }
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      const __m256i sum = _mm256_sub_epi32(sum32[t], _mm256_set1_epi32(2 * yi[t][ib].sum8));
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q4_1 (and Q5_1): Q5_0's order, the GEMV's float terms per token.
template <class Group, int kT>
HEARTH_AVX2 void gemm_affine_legacy_tokens(int64_t n_in, const void* group, const char* activations,
                                           int64_t act_stride, const ActivationBlockInfo* info,
                                           int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const Group*>(group);
  const BlockQ8_1* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_1>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    const __m256i qh = affine_legacy_qh(w[ib]);
    __m256i sum32[kT];
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      __m256i level[4];  // words 2 p and 2 p + 1: low, high nibbles each
#pragma GCC unroll 2
      for (int jj = 0; jj < 2; ++jj) {
        const int j = 2 * p + jj;
        const __m256i qs = load32(w[ib].qs + 32 * j);
        level[2 * jj] = affine_legacy_level<Group>(qs, qh, j, true);
        level[2 * jj + 1] = affine_legacy_level<Group>(qs, qh, j, false);
      }
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const int8_t* a = y[t][ib].qs + 8 * p;
        __m256i sum16 = _mm256_maddubs_epi16(level[0], broadcast_word(a));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[1], broadcast_word(a + 16)));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[2], broadcast_word(a + 4)));
        sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(level[3], broadcast_word(a + 20)));
        const __m256i prod = _mm256_madd_epi16(sum16, ones);
        sum32[t] = p == 0 ? prod : _mm256_add_epi32(sum32[t], prod);
        pin(sum32[t]);
      }
    }
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) acc[t] = affine_legacy_step(w[ib], yi[t][ib], sum32[t], acc[t]);
  }
  store_tokens(acc, res);
}

template <int kT>
HEARTH_AVX2 void gemm_q8_0x8_q8_0_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* info,
                                         int64_t info_stride, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ8_0x8*>(group);
  const BlockQ8_0* y[kT];
  const ActivationBlockInfo* yi[kT];
  for (int t = 0; t < kT; ++t) {
    y[t] = token_blocks<BlockQ8_0>(activations, act_stride, t);
    yi[t] = info + t * info_stride;
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK; ++ib) {
    // Each weight word's magnitudes made once and taken by every token before the next word;
    // each token's activation word takes the weights' signs (the GEMV's sign trick).
    __m256i sum32[kT];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i q = load32(w[ib].qs + 32 * j);
      const __m256i magnitude = _mm256_sign_epi8(q, q);
#pragma GCC unroll 8
      for (int t = 0; t < kT; ++t) {
        const __m256i pairs = _mm256_maddubs_epi16(
            magnitude, _mm256_sign_epi8(broadcast_word(y[t][ib].qs + 4 * j), q));
        const __m256i prod = _mm256_madd_epi16(pairs, ones);
        sum32[t] = j == 0 ? prod : _mm256_add_epi32(sum32[t], prod);
        pin(sum32[t]);
      }
    }
    const __m256 wd = group_scales(w[ib].d);
#pragma GCC unroll 8
    for (int t = 0; t < kT; ++t) {
      const __m256 d = _mm256_mul_ps(wd, _mm256_set1_ps(yi[t][ib].d));
      acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sum32[t]), acc[t]);
    }
  }
  store_tokens(acc, res);
}

// Q2_K: Q3_K's order with 2-bit levels; the min term once per super-block per token, as Q4_K's.
template <int kT>
HEARTH_AVX2 void gemm_q2_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                         int64_t /*info_stride*/, float (*res)[kInterleavedRows]) {
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
          const __m256i sc = q2_k_row_scales(g.scales[8 * h + 2 * k + half]);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(four_word_sums16(levels, a), sc));
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
// levels are built once (4 registers) and shared by the tokens; each token sums its four maddubs
// in int16 (the GEMV's sums) and widens them with the rows' scale, and takes its offset term once
// per super-block.
template <int kT>
HEARTH_AVX2 void gemm_q3_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                         int64_t /*info_stride*/, float (*res)[kInterleavedRows]) {
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
            levels[jj] = q3_k_level(load32(g.qs[h][j]), load32(g.hmask[j]), k, 4 * h + k);
          }
          const __m256i sc = row_scales(g.scales[8 * h + 2 * k + half]);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(four_word_sums16(levels, a), sc));
            pin(sumi[t]);
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

// Q4_K: per 32-element sub-block s (the low or high nibbles of quarter p = s / 2), each of the
// eight weight words is unpacked once and multiplied with every token's activation word before
// the next is unpacked, so only one word is live and the tokens' int16 sums (as the GEMV's 8
// maddubs per sub-block) hold the registers; each token then widens its sum with the rows'
// scale of s.
template <int kT>
HEARTH_AVX2 void gemm_q4_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                         int64_t /*info_stride*/, float (*res)[kInterleavedRows]) {
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
        __m256i sum16[kT];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          const __m256i packed = load32(g.qs + 256 * p + 32 * j);
          const __m256i nibbles =
              _mm256_and_si256(high ? _mm256_srli_epi16(packed, 4) : packed, low4);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const __m256i prod =
                _mm256_maddubs_epi16(nibbles, broadcast_word(y[t][ib].qs + 32 * s + 4 * j));
            sum16[t] = j == 0 ? prod : _mm256_add_epi16(sum16[t], prod);
            pin(sum16[t]);
          }
        }
        const __m256i sc = row_scales(g.scales[s]);
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t)
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(sum16[t], sc));
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

// Q5_K: per sub-block s and half of its words, the four words' 5-bit levels are built once (4
// registers) and shared by the tokens, each summing its four maddubs in int16 (the GEMV's limit)
// and widening with the rows' scale of s right away. Q4_K's one-word-live order would keep 8
// int16 sums and 8 int32 sums live at once, more than AVX2's 16 registers (GCC spilled them).
template <int kT>
HEARTH_AVX2 void gemm_q5_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                         int64_t /*info_stride*/, float (*res)[kInterleavedRows]) {
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
      const __m256i sc = row_scales(g.scales[s]);
#pragma GCC unroll 2
      for (int half = 0; half < 2; ++half) {
        __m256i levels[4];
        for (int jj = 0; jj < 4; ++jj) {
          const int j = 4 * half + jj;
          levels[jj] = q5_k_level(load32(g.qs + 256 * (s / 2) + 32 * j), load32(g.qh[j]), s);
        }
#pragma GCC unroll 8
        for (int t = 0; t < kT; ++t) {
          const int8_t* a = y[t][ib].qs + 32 * s + 16 * half;
          sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(four_word_sums16(levels, a), sc));
          pin(sumi[t]);
        }
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

// Q6_K: per half h, 16-element half of each 32, and k, the four words' 6-bit levels are decoded
// once (4 registers) and shared by the tokens; each token sums them as the GEMV does, and takes
// its offset term once per super-block.
template <int kT>
HEARTH_AVX2 void gemm_q6_kx8_q8_k_tokens(int64_t n_in, const void* group, const char* activations,
                                         int64_t act_stride, const ActivationBlockInfo* /*info*/,
                                         int64_t /*info_stride*/, float (*res)[kInterleavedRows]) {
  const auto* w = static_cast<const BlockQ6_Kx8*>(group);
  const BlockQ8_K* y[kT];
  for (int t = 0; t < kT; ++t) y[t] = token_blocks<BlockQ8_K>(activations, act_stride, t);
  __m256 acc[kT];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t ib = 0; ib < n_in / kQK_K; ++ib) {
    const BlockQ6_Kx8& g = w[ib];
    __m256i sumi[kT];
    for (auto& s : sumi) s = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      for (int half = 0; half < 2; ++half) {
        for (int k = 0; k < 4; ++k) {
          // Level k of word j: the low or high nibble of ql word (k odd: the second ql run),
          // with bits 2 k, 2 k + 1 of the qh word on top.
          __m256i levels[4];
          for (int jj = 0; jj < 4; ++jj) {
            const int j = 4 * half + jj;
            levels[jj] = q6_k_level(load32(g.q[h][j][k % 2]), load32(g.q[h][j][2]), k);
          }
          const int s = 8 * h + 2 * k + half;
          const __m256i sc = row_scales(g.scales[s]);
#pragma GCC unroll 8
          for (int t = 0; t < kT; ++t) {
            const int8_t* a = y[t][ib].qs + 128 * h + 32 * k + 16 * half;
            const __m256i p01 =
                _mm256_add_epi16(_mm256_maddubs_epi16(levels[0], broadcast_word(a)),
                                 _mm256_maddubs_epi16(levels[1], broadcast_word(a + 4)));
            const __m256i p23 =
                _mm256_add_epi16(_mm256_maddubs_epi16(levels[2], broadcast_word(a + 8)),
                                 _mm256_maddubs_epi16(levels[3], broadcast_word(a + 12)));
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p01, sc));
            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p23, sc));
            pin(sumi[t]);
          }
        }
      }
    }
    const GroupScalePairs pairs = group_scale_pairs(g);
    const __m256 gd = group_scales(g.d);
    for (int t = 0; t < kT; ++t) {
      const __m256i offset = group_bsum_products(pairs, y[t][ib]);
      const __m256i s = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(offset, 5));
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(gd, _mm256_set1_ps(y[t][ib].d)), _mm256_cvtepi32_ps(s),
                               acc[t]);
    }
  }
  store_tokens(acc, res);
}

}  // namespace

constinit const InterleavedGemmFn gemm_q4_0x8_q8_0_avx2 =
    gemm_by_width<gemm_q4_0x8_q8_0_tokens<kGemmTokens>, gemm_q4_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q4_1x8_q8_1_avx2 =
    gemm_by_width<gemm_affine_legacy_tokens<BlockQ4_1x8, kGemmTokens>,
                  gemm_affine_legacy_tokens<BlockQ4_1x8, kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_1x8_q8_1_avx2 =
    gemm_by_width<gemm_affine_legacy_tokens<BlockQ5_1x8, kGemmTokens>,
                  gemm_affine_legacy_tokens<BlockQ5_1x8, kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_0x8_q8_0_avx2 =
    gemm_by_width<gemm_q5_0x8_q8_0_tokens<kGemmTokens>, gemm_q5_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q8_0x8_q8_0_avx2 =
    gemm_by_width<gemm_q8_0x8_q8_0_tokens<kGemmTokens>, gemm_q8_0x8_q8_0_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q2_kx8_q8_k_avx2 =
    gemm_by_width<gemm_q2_kx8_q8_k_tokens<kGemmTokens>, gemm_q2_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q3_kx8_q8_k_avx2 =
    gemm_by_width<gemm_q3_kx8_q8_k_tokens<kGemmTokens>, gemm_q3_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q4_kx8_q8_k_avx2 =
    gemm_by_width<gemm_q4_kx8_q8_k_tokens<kGemmTokens>, gemm_q4_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q5_kx8_q8_k_avx2 =
    gemm_by_width<gemm_q5_kx8_q8_k_tokens<kGemmTokens>, gemm_q5_kx8_q8_k_tokens<kGemmTokensNarrow>>;
constinit const InterleavedGemmFn gemm_q6_kx8_q8_k_avx2 =
    gemm_by_width<gemm_q6_kx8_q8_k_tokens<kGemmTokens>, gemm_q6_kx8_q8_k_tokens<kGemmTokensNarrow>>;

}  // namespace hearth::backend_cpu

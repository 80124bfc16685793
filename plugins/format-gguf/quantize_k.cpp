// K-quants Q2_K..Q6_K and Q8_K: ggml's quantize_row_*_ref (no importance) and
// quantize_row_*_impl (with importance), in ggml's arithmetic order. Each super-block of 256 is
// quantized on its own; importance is indexed by the element's column in the row.
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "blocks.hpp"
#include "quant_search.hpp"
#include "quantize.hpp"

namespace hearth::format_gguf {

using sdk::fp16_to_fp32;
using sdk::fp32_to_fp16;

namespace {

int clamp_int(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// Four 2-bit levels per byte: element j + l + 32k (k = 0..3) in bits 2k of byte j/4 + l.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

// Q4_K/Q5_K scales: eight 6-bit scales and mins in 12 bytes (the inverse of scale_min_k4).
void pack_scales_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* scales) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((ls[j] >> 4) << 6));
      scales[j] = static_cast<uint8_t>(scales[j] | ((lm[j] >> 4) << 6));
    }
  }
}

// Q3_K scales: sixteen 6-bit values (already offset by +32) in 12 bytes.
void pack_scales_q3(const int* levels, uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < kQK_K / 16; ++j) {
    int l = levels[j];
    if (j < 8) {
      scales[j] = static_cast<uint8_t>(l & 0xF);
    } else {
      scales[j - 8] = static_cast<uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
    }
    l >>= 4;
    scales[j % 4 + 8] = static_cast<uint8_t>(scales[j % 4 + 8] | (l << (2 * (j / 4))));
  }
}

// Affine K-quants (Q4_K, Q5_K): the final levels 0..nmax from the stored (fp16-rounded) scales.
void requantize_affine_k4(const float* x, const uint8_t* scales, Half d16, Half dmin16, int nmax,
                          uint8_t* L) {
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    scale_min_k4(j, scales, sc, m);
    const float d = fp16_to_fp32(d16) * static_cast<float>(sc);
    if (!d) continue;
    const float dm = fp16_to_fp32(dmin16) * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(clamp_int(l, 0, nmax));
    }
  }
}

// Q2_K's final 2-bit levels from the stored scales/mins (4 bits each) and super-block scales.
void requantize_q2_k(const float* x, const uint8_t* scales, float dm, float mm, uint8_t* L) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = dm * static_cast<float>(scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * static_cast<float>(scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int((x[16 * j + ii] + m) / d);
      L[16 * j + ii] = static_cast<uint8_t>(clamp_int(l, 0, 3));
    }
  }
}

// Q3_K's final levels (stored +4, 0..7) from the stored scales, then the hmask/qs split.
void finish_q3_k(const float* x, BlockQ3_K& b, int8_t* L) {
  for (int j = 0; j < kQK_K / 16; ++j) {
    const int sc = q3_k_scale(j, b.scales) - 32;
    const float d = fp16_to_fp32(b.d) * static_cast<float>(sc);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<int8_t>(clamp_int(l, -4, 3) + 4);
    }
  }
  // The high bit of element j goes to bit j / 32 of hmask[j % 32].
  std::memset(b.hmask, 0, sizeof(b.hmask));
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      b.hmask[m] = static_cast<uint8_t>(b.hmask[m] | hm);
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
    if (++m == kQK_K / 8) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  uint8_t levels[kQK_K];
  for (int j = 0; j < kQK_K; ++j) levels[j] = static_cast<uint8_t>(L[j]);
  pack_2bit(levels, b.qs);
}

void pack_q5_k(const uint8_t* L, BlockQ5_K& b) {
  std::memset(b.qh, 0, sizeof(b.qh));
  uint8_t* ql = b.qs;
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        b.qh[j] = static_cast<uint8_t>(b.qh[j] | m1);
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        b.qh[j] = static_cast<uint8_t>(b.qh[j] | m2);
      }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    ql += 32;
  }
}

void pack_q4_k(const uint8_t* L, BlockQ4_K& b) {
  uint8_t* q = b.qs;
  for (int j = 0; j < kQK_K; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

// Per-sub-block scales and mins of Q4_K/Q5_K before the 6-bit encoding.
struct AffineScales {
  float scales[kQK_K / 32];
  float mins[kQK_K / 32];
  float weight_sums[kQK_K / 32];  // used by the importance path only
};

// ggml's quantize_row_q{4,5}_K_ref: a make_qkx2_quants search per 32 with weights av_x + |x|,
// then 6-bit scales relative to the largest.
template <class Block>
void quantize_affine_k_ref(const float* x, Block& b, int nmax, float rmin, float rdelta, int nstep,
                           uint8_t* L) {
  AffineScales s{};
  uint8_t Laux[32];
  float weights[32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    s.scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &s.mins[j], Laux,
                                   rmin, rdelta, nstep, false);
    if (s.scales[j] > max_scale) max_scale = s.scales[j];
    if (s.mins[j] > max_min) max_min = s.mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[kQK_K / 32], lm[kQK_K / 32];
  for (int j = 0; j < kQK_K / 32; ++j) {
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * s.scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * s.mins[j])));
  }
  pack_scales_k4(ls, lm, b.scales);
  b.d = fp32_to_fp16(max_scale / 63.f);
  b.dmin = fp32_to_fp16(max_min / 63.f);
  requantize_affine_k4(x, b.scales, b.d, b.dmin, nmax, L);
}

// ggml's quantize_row_q{4,5}_K_impl: make_qkx3_quants per 32 with importance-derived weights,
// then make_qp_quants for the 6-bit scales and mins.
template <class Block>
void quantize_affine_k_weighted(const float* x, const float* qw_block, Block& b, int nmax,
                                uint8_t* L) {
  AffineScales s{};
  uint8_t Laux[32];
  float weights[32];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  const float av_x = std::sqrt(sigma2);
  for (int j = 0; j < kQK_K / 32; ++j) {
    if (qw_block) {
      const float* qw = qw_block + 32 * j;
      for (int l = 0; l < 32; ++l)
        weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    } else {
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    }
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    s.weight_sums[j] = sumw;
    s.scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &s.mins[j], Laux,
                                   -0.9f, 0.05f, 36, false);
  }
  uint8_t ls[kQK_K / 32], lm[kQK_K / 32];
  const float d_block = make_qp_quants(kQK_K / 32, 63, s.scales, ls, s.weight_sums);
  const float m_block = make_qp_quants(kQK_K / 32, 63, s.mins, lm, s.weight_sums);
  for (int j = 0; j < kQK_K / 32; ++j) {
    ls[j] = std::min<uint8_t>(63, ls[j]);
    lm[j] = std::min<uint8_t>(63, lm[j]);
  }
  pack_scales_k4(ls, lm, b.scales);
  b.d = fp32_to_fp16(d_block);
  b.dmin = fp32_to_fp16(m_block);
  requantize_affine_k4(x, b.scales, b.d, b.dmin, nmax, L);
}

void quantize_q2_k_block_ref(const float* x, BlockQ2_K& b) {
  constexpr float q4scale = 15.f;
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < kQK_K / 16; ++j)
      b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    b.d = fp32_to_fp16(max_scale / q4scale);
  } else {
    for (int j = 0; j < kQK_K / 16; ++j) b.scales[j] = 0;
    b.d = fp32_to_fp16(0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < kQK_K / 16; ++j) {
      const int l = nearest_int(iscale * mins[j]);
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (l << 4));
    }
    b.dmin = fp32_to_fp16(max_min / q4scale);
  } else {
    b.dmin = fp32_to_fp16(0.f);
  }
  requantize_q2_k(x, b.scales, fp16_to_fp32(b.d), fp16_to_fp32(b.dmin), L);
  pack_2bit(L, b.qs);
}

void quantize_q2_k_block_weighted(const float* x, const float* qw_block, BlockQ2_K& b) {
  uint8_t L[kQK_K];
  uint8_t Laux[16];
  float mins[kQK_K / 16];
  float scales[kQK_K / 16];
  float sw[kQK_K / 16] = {};
  float weight[16];
  uint8_t Ls[kQK_K / 16], Lm[kQK_K / 16];
  float sumx2 = 0;
  for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = sumx2 / kQK_K;
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float* qw = qw_block + 16 * j;
    for (int l = 0; l < 16; ++l)
      weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  const float dm = make_qp_quants(kQK_K / 16, 15, scales, Ls, sw);
  const float mm = make_qp_quants(kQK_K / 16, 15, mins, Lm, sw);
  b.d = fp32_to_fp16(dm);
  b.dmin = fp32_to_fp16(mm);
  for (int j = 0; j < kQK_K / 16; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  requantize_q2_k(x, b.scales, fp16_to_fp32(b.d), fp16_to_fp32(b.dmin), L);
  pack_2bit(L, b.qs);
}

void quantize_q3_k_block_ref(const float* x, BlockQ3_K& b) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float amax = 0;
  for (int j = 0; j < kQK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  std::memset(b.scales, 0, sizeof(b.scales));
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    int levels[kQK_K / 16];
    for (int j = 0; j < kQK_K / 16; ++j) {
      // ggml stores nearest_int into an int8_t before clamping; keep that wrap-around.
      const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      levels[j] = clamp_int(l, -32, 31) + 32;
    }
    pack_scales_q3(levels, b.scales);
    b.d = fp32_to_fp16(1 / iscale);
  } else {
    b.d = fp32_to_fp16(0.f);
  }
  finish_q3_k(x, b, L);
}

void quantize_q3_k_block_weighted(const float* x, const float* qw_block, BlockQ3_K& b) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float weight[16];
  float sw[kQK_K / 16];
  int8_t Ls[kQK_K / 16];
  float sumx2 = 0;
  for (int j = 0; j < kQK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = 2 * sumx2 / kQK_K;
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float* qw = qw_block + 16 * j;
    for (int l = 0; l < 16; ++l)
      weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
  }
  const float d_block = make_qx_quants(kQK_K / 16, 32, scales, Ls, 1, sw);
  int levels[kQK_K / 16];
  for (int j = 0; j < kQK_K / 16; ++j) levels[j] = Ls[j];
  pack_scales_q3(levels, b.scales);
  b.d = fp32_to_fp16(d_block);
  finish_q3_k(x, b, L);
}

void quantize_q6_k_block(const float* x, const float* qw_block, BlockQ6_K& b) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float* qw = qw_block ? qw_block + 16 * ib : nullptr;
    const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    b = BlockQ6_K{};
    b.d = fp32_to_fp16(0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < kQK_K / 16; ++ib)
    b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = fp16_to_fp32(b.d) * static_cast<float>(b.scales[j]);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = nearest_int(x[16 * j + ii] / d);
      L[16 * j + ii] = static_cast<int8_t>(clamp_int(l, -32, 31) + 32);
    }
  }
  uint8_t* ql = b.ql;
  uint8_t* qh = b.qh;
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const int l0 = L[j + l], l1 = L[j + l + 32], l2 = L[j + l + 64], l3 = L[j + l + 96];
      ql[l] = static_cast<uint8_t>((l0 & 0xF) | ((l2 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((l1 & 0xF) | ((l3 & 0xF) << 4));
      qh[l] =
          static_cast<uint8_t>((l0 >> 4) | ((l1 >> 4) << 2) | ((l2 >> 4) << 4) | ((l3 >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

}  // namespace

void quantize_q2_k(const float* src, std::byte* dst, int64_t n, const float* importance) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockQ2_K b{};
    if (importance)
      quantize_q2_k_block_weighted(src + i * kQK_K, importance + i * kQK_K, b);
    else
      quantize_q2_k_block_ref(src + i * kQK_K, b);
    store_block(dst, i, b);
  }
}

void quantize_q3_k(const float* src, std::byte* dst, int64_t n, const float* importance) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockQ3_K b{};
    if (importance)
      quantize_q3_k_block_weighted(src + i * kQK_K, importance + i * kQK_K, b);
    else
      quantize_q3_k_block_ref(src + i * kQK_K, b);
    store_block(dst, i, b);
  }
}

void quantize_q4_k(const float* src, std::byte* dst, int64_t n, const float* importance) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockQ4_K b{};
    uint8_t L[kQK_K];
    if (importance)
      quantize_affine_k_weighted(src + i * kQK_K, importance + i * kQK_K, b, 15, L);
    else
      quantize_affine_k_ref(src + i * kQK_K, b, 15, -1.f, 0.1f, 20, L);
    pack_q4_k(L, b);
    store_block(dst, i, b);
  }
}

void quantize_q5_k(const float* src, std::byte* dst, int64_t n, const float* importance) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockQ5_K b{};
    uint8_t L[kQK_K];
    if (importance)
      quantize_affine_k_weighted(src + i * kQK_K, importance + i * kQK_K, b, 31, L);
    else
      quantize_affine_k_ref(src + i * kQK_K, b, 31, -0.5f, 0.1f, 15, L);
    pack_q5_k(L, b);
    store_block(dst, i, b);
  }
}

void quantize_q6_k(const float* src, std::byte* dst, int64_t n, const float* importance) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    BlockQ6_K b{};
    quantize_q6_k_block(src + i * kQK_K, importance ? importance + i * kQK_K : nullptr, b);
    store_block(dst, i, b);
  }
}

void quantize_q8_k(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* x = src + i * kQK_K;
    BlockQ8_K b{};
    float max = 0;
    float amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax) {
      // -127 (not -128) so that the most negative level is never needed (ggml's choice).
      const float iscale = -127.f / max;
      for (int j = 0; j < kQK_K; ++j)
        b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
      for (int j = 0; j < kQK_K / 16; ++j) {
        int sum = 0;
        for (int ii = 0; ii < 16; ++ii) sum += b.qs[j * 16 + ii];
        b.bsums[j] = static_cast<int16_t>(sum);
      }
      b.d = 1 / iscale;
    }
    store_block(dst, i, b);
  }
}

}  // namespace hearth::format_gguf

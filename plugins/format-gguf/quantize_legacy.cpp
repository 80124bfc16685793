// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: ggml's quantize_row_*_ref (no importance) and
// quantize_row_*_impl (with importance), in ggml's arithmetic order.
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "blocks.hpp"
#include "quant_search.hpp"
#include "quantize.hpp"

namespace hearth::format_gguf {

using sdk::fp32_to_fp16;

namespace {

// ggml's (int8_t)(v) for the in-range values a finite block produces.
int8_t to_int8(float v) { return static_cast<int8_t>(trunc_to_int(v)); }

// The largest |x| of a block, keeping its sign (the first one wins on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

// sigma^2 of a whole row, the base of every importance-weighted legacy quantizer's weights.
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

void importance_weights(const float* xb, const float* qw, float sigma2, float* weight, int n) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Packs 32 five-bit levels: low nibbles in qs (element j and j+16 share byte j), 5th bits in qh.
template <class Block>
void pack_5bit(const uint8_t* L, Block& b) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xi0 = L[j];
    const uint8_t xi1 = L[j + 16];
    b.qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << j;
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) b.qh[k] = static_cast<uint8_t>(qh >> (8 * k));
}

}  // namespace

void quantize_q4_0(const float* src, std::byte* dst, int64_t n, const float* importance) {
  constexpr int qk = kQK4_0;
  const float sigma2 = importance ? row_sigma2(src, n) : 0.0f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    BlockQ4_0 b{};
    if (importance) {
      float weight[qk];
      int8_t L[qk];
      importance_weights(x, importance + i * qk, sigma2, weight, qk);
      b.d = fp32_to_fp16(make_qx_quants(qk, 8, x, L, 1, weight));
      for (int j = 0; j < qk / 2; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + qk / 2] << 4));
    } else {
      const float max = signed_absmax(x, qk);
      const float d = max / -8;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      for (int j = 0; j < qk / 2; ++j) {
        const int xi0 = std::min<int>(15, to_int8(x[j] * id + 8.5f));
        const int xi1 = std::min<int>(15, to_int8(x[j + qk / 2] * id + 8.5f));
        b.qs[j] =
            static_cast<uint8_t>(static_cast<uint8_t>(xi0) | (static_cast<uint8_t>(xi1) << 4));
      }
    }
    store_block(dst, i, b);
  }
}

void quantize_q4_1(const float* src, std::byte* dst, int64_t n, const float* importance) {
  constexpr int qk = kQK4_1;
  const float sigma2 = importance ? row_sigma2(src, n) : 0.0f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    BlockQ4_1 b{};
    if (importance) {
      float weight[qk];
      uint8_t L[qk], Laux[qk];
      importance_weights(x, importance + i * qk, sigma2, weight, qk);
      float min;
      const float d = make_qkx3_quants(qk, 15, x, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(-min);
      for (int j = 0; j < qk / 2; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + qk / 2] << 4));
    } else {
      float min, max;
      min_max(x, qk, min, max);
      const float d = (max - min) / ((1 << 4) - 1);
      const float id = d ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(min);
      for (int j = 0; j < qk / 2; ++j) {
        const int xi0 = std::min<int>(15, to_int8((x[j] - min) * id + 0.5f));
        const int xi1 = std::min<int>(15, to_int8((x[j + qk / 2] - min) * id + 0.5f));
        b.qs[j] =
            static_cast<uint8_t>(static_cast<uint8_t>(xi0) | (static_cast<uint8_t>(xi1) << 4));
      }
    }
    store_block(dst, i, b);
  }
}

void quantize_q5_0(const float* src, std::byte* dst, int64_t n, const float* importance) {
  constexpr int qk = kQK5_0;
  const float sigma2 = importance ? row_sigma2(src, n) : 0.0f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    BlockQ5_0 b{};
    uint8_t L[qk];
    if (importance) {
      float weight[qk];
      int8_t Ls[qk];
      importance_weights(x, importance + i * qk, sigma2, weight, qk);
      b.d = fp32_to_fp16(make_qx_quants(qk, 16, x, Ls, 1, weight));
      for (int j = 0; j < qk; ++j) L[j] = static_cast<uint8_t>(Ls[j]);
    } else {
      const float max = signed_absmax(x, qk);
      const float d = max / -16;
      const float id = d ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      for (int j = 0; j < qk; ++j)
        L[j] = static_cast<uint8_t>(std::min<int>(31, to_int8(x[j] * id + 16.5f)));
    }
    pack_5bit(L, b);
    store_block(dst, i, b);
  }
}

void quantize_q5_1(const float* src, std::byte* dst, int64_t n, const float* importance) {
  constexpr int qk = kQK5_1;
  const float sigma2 = importance ? row_sigma2(src, n) : 0.0f;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    BlockQ5_1 b{};
    uint8_t L[qk];
    if (importance) {
      float weight[qk];
      uint8_t Laux[qk];
      importance_weights(x, importance + i * qk, sigma2, weight, qk);
      float min;
      const float d = make_qkx3_quants(qk, 31, x, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(-min);
    } else {
      float min, max;
      min_max(x, qk, min, max);
      const float d = (max - min) / ((1 << 5) - 1);
      const float id = d ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(min);
      // ggml converts straight to uint8_t here (no clamp); the top level is exactly 31.
      for (int j = 0; j < qk; ++j)
        L[j] = static_cast<uint8_t>(trunc_to_int((x[j] - min) * id + 0.5f));
    }
    pack_5bit(L, b);
    store_block(dst, i, b);
  }
}

void quantize_q8_0(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  constexpr int qk = kQK8_0;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    float amax = 0.0f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < qk; ++j) b.qs[j] = to_int8(std::round(x[j] * id));
    store_block(dst, i, b);
  }
}

void quantize_q8_1(const float* src, std::byte* dst, int64_t n, const float* /*importance*/) {
  constexpr int qk = kQK8_1;
  for (int64_t i = 0; i < n / qk; ++i) {
    const float* x = src + i * qk;
    float amax = 0.0f;
    for (int j = 0; j < qk; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    BlockQ8_1 b{};
    b.d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < qk; ++j) {
      b.qs[j] = to_int8(std::round(x[j] * id));
      sum += b.qs[j];
    }
    b.s = fp32_to_fp16(static_cast<float>(sum) * d);
    store_block(dst, i, b);
  }
}

}  // namespace hearth::format_gguf

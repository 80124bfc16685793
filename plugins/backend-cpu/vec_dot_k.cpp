// Scalar dot products of the K-quant super-block types with Q8_K activations: ggml's generic
// vec_dot. Per super-block an integer sum of (sub-block scale * sub-block dot), scaled by
// d_w * d_a; the mins of Q2_K/Q4_K/Q5_K come in through the activation's per-16 sums (bsums).
#include "quant_blocks.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

// Integer dot of 16 (or 32) weight levels with activation quants.
int dot_levels(const int8_t* levels, const int8_t* q8, int count) {
  int sum = 0;
  for (int l = 0; l < count; ++l) sum += levels[l] * q8[l];
  return sum;
}

}  // namespace

float dot_q2_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
    const float dall = y[i].d * half_to_float(x[i].d);
    const float dmin = y[i].d * half_to_float(x[i].dmin);
    int8_t levels[kQK_K];
    for (int g = 0; g < 8; ++g)  // group g: elements 32g.., bits 2*(g%4) of qs[32*(g/4) + l]
      for (int l = 0; l < 32; ++l)
        levels[32 * g + l] = static_cast<int8_t>((x[i].qs[32 * (g / 4) + l] >> (2 * (g % 4))) & 3);
    int isum = 0;
    for (int s = 0; s < 16; ++s)
      isum += (x[i].scales[s] & 0xF) * dot_levels(levels + 16 * s, y[i].qs + 16 * s, 16);
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float dot_q3_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t levels[kQK_K];
    for (int g = 0; g < 8; ++g) {
      const int shift = 2 * (g % 4);
      const uint8_t* q = x[i].qs + 32 * (g / 4);
      const auto bit = static_cast<uint8_t>(1u << g);
      for (int l = 0; l < 32; ++l)
        levels[32 * g + l] =
            static_cast<int8_t>(((q[l] >> shift) & 3) - ((x[i].hmask[l] & bit) ? 0 : 4));
    }
    int8_t scales[16];
    unpack_scales_q3_k(x[i].scales, scales);
    int isum = 0;
    for (int s = 0; s < 16; ++s)
      isum += scales[s] * dot_levels(levels + 16 * s, y[i].qs + 16 * s, 16);
    sumf += (half_to_float(x[i].d) * y[i].d) * static_cast<float>(isum);
  }
  return sumf;
}

namespace {

// Q4_K and Q5_K share everything but the fifth bit.
template <class Block, bool kFifthBit>
float dot_affine_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t levels[kQK_K];
    for (int p = 0; p < 4; ++p) {  // pair p: sub-blocks 2p (low nibbles), 2p+1 (high nibbles)
      const uint8_t* q = x[i].qs + 32 * p;
      for (int l = 0; l < 32; ++l) {
        int lo = q[l] & 0xF, hi = q[l] >> 4;
        if constexpr (kFifthBit) {
          lo += ((x[i].qh[l] >> (2 * p)) & 1) << 4;
          hi += ((x[i].qh[l] >> (2 * p + 1)) & 1) << 4;
        }
        levels[64 * p + l] = static_cast<int8_t>(lo);
        levels[64 * p + 32 + l] = static_cast<int8_t>(hi);
      }
    }
    uint8_t scales[8], mins[8];
    unpack_scales_k4(x[i].scales, scales, mins);
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * mins[j / 2];
    int isum = 0;
    for (int s = 0; s < 8; ++s)
      isum += scales[s] * dot_levels(levels + 32 * s, y[i].qs + 32 * s, 32);
    const float d = half_to_float(x[i].d) * y[i].d;
    const float dmin = half_to_float(x[i].dmin) * y[i].d;
    sumf += d * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

}  // namespace

float dot_q4_k_q8_k(int64_t n, const void* w, const void* a) {
  return dot_affine_k<BlockQ4_K, false>(n, w, a);
}

float dot_q5_k_q8_k(int64_t n, const void* w, const void* a) {
  return dot_affine_k<BlockQ5_K, true>(n, w, a);
}

float dot_q6_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t levels[kQK_K];
    for (int h = 0; h < 2; ++h) {  // halves of 128: ql[64h..], qh[32h..]
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      int8_t* out = levels + 128 * h;
      for (int l = 0; l < 32; ++l) {
        out[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        out[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        out[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        out[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int isum = 0;
    for (int s = 0; s < 16; ++s)
      isum += x[i].scales[s] * dot_levels(levels + 16 * s, y[i].qs + 16 * s, 16);
    sumf += (half_to_float(x[i].d) * y[i].d) * static_cast<float>(isum);
  }
  return sumf;
}

}  // namespace hearth::backend_cpu

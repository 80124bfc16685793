// Activation quantizers, ggml's quantize_row_q8_0_ref / q8_1_ref / q8_K_ref operation for
// operation: the float results (scales, rounding ties) must be the ones llama.cpp sees.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_blocks.hpp"
#include "quant_kernels.hpp"
#include "quantize_activations_variants.hpp"

namespace hearth::backend_cpu {
namespace {

// ggml's nearest_int: round half to even through the float mantissa (|fval| < 2^22).
int nearest_int(float fval) {
  const float val = fval + 12582912.f;
  int32_t i;
  std::memcpy(&i, &val, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

// amax / 127 as the step, roundf(x / step) as the quant (half away from zero); returns sum(q).
int quantize_block_32(const float* x, Half& d_out, int8_t* qs, float& d) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  d = amax / ((1 << 7) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d_out = sdk::fp32_to_fp16(d);
  int sum = 0;
  for (int j = 0; j < kQK; ++j) {
    qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    sum += qs[j];
  }
  return sum;
}

}  // namespace

void quantize_row_q8_0_scalar(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(blocks);
  for (int64_t i = 0; i < n / kQK; ++i) {
    float d;
    quantize_block_32(x + i * kQK, y[i].d, y[i].qs, d);
  }
}

void quantize_row_q8_1_scalar(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(blocks);
  for (int64_t i = 0; i < n / kQK; ++i) {
    float d;
    const int sum = quantize_block_32(x + i * kQK, y[i].d, y[i].qs, d);
    y[i].s = sdk::fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

// The scale is max / -127 with max the signed value of largest magnitude, so that value maps to
// exactly -127 and -128 is never needed.
void quantize_row_q8_k_scalar(const float* x, void* blocks, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(blocks);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[i].d = 0.0f;
      std::memset(y[i].qs, 0, sizeof y[i].qs);
      std::memset(y[i].bsums, 0, sizeof y[i].bsums);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += y[i].qs[j * 16 + k];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// The AVX2 versions give the same bytes; which one runs is decided once per process.
void quantize_row_q8_0(const float* x, void* blocks, int64_t n) {
  static const bool simd = cpu_has_avx2();
  return simd ? quantize_row_q8_0_avx2(x, blocks, n) : quantize_row_q8_0_scalar(x, blocks, n);
}

void quantize_row_q8_1(const float* x, void* blocks, int64_t n) {
  static const bool simd = cpu_has_avx2();
  return simd ? quantize_row_q8_1_avx2(x, blocks, n) : quantize_row_q8_1_scalar(x, blocks, n);
}

void quantize_row_q8_k(const float* x, void* blocks, int64_t n) {
  static const bool simd = cpu_has_avx2();
  return simd ? quantize_row_q8_k_avx2(x, blocks, n) : quantize_row_q8_k_scalar(x, blocks, n);
}

}  // namespace hearth::backend_cpu

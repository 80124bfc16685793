// Scalar dot products of the 32-element block types with quantized activations: ggml's generic
// vec_dot (integer sum per block, then scaled by the fp16 scales converted to float). These are
// the reference the AVX2 kernels are tested against.
#include <cstring>

#include "quant_blocks.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

uint32_t load_qh(const uint8_t (&qh)[4]) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof v);
  return v;  // little-endian hosts only (x86-64, aarch64), as GGUF itself
}

}  // namespace

float dot_q4_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi0 += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
      sumi1 += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi0 + sumi1) * half_to_float(x[ib].d) * half_to_float(y[ib].d);
  }
  return sumf;
}

float dot_q4_1_q8_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
      sumi1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + kQK / 2];
    }
    // The min contributes m * sum(x_q * d_x) = m * s, s precomputed by the quantizer.
    sumf += (half_to_float(x[ib].d) * half_to_float(y[ib].d)) * static_cast<float>(sumi0 + sumi1) +
            half_to_float(x[ib].m) * half_to_float(y[ib].s);
  }
  return sumf;
}

float dot_q5_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const uint32_t qh = load_qh(x[ib].qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      sumi0 += (((x[ib].qs[j] & 0x0F) | h0) - 16) * y[ib].qs[j];
      sumi1 += (((x[ib].qs[j] >> 4) | h1) - 16) * y[ib].qs[j + kQK / 2];
    }
    sumf += (half_to_float(x[ib].d) * half_to_float(y[ib].d)) * static_cast<float>(sumi0 + sumi1);
  }
  return sumf;
}

float dot_q5_1_q8_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    const uint32_t qh = load_qh(x[ib].qh);
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      sumi0 += ((x[ib].qs[j] & 0x0F) | h0) * y[ib].qs[j];
      sumi1 += ((x[ib].qs[j] >> 4) | h1) * y[ib].qs[j + kQK / 2];
    }
    sumf += (half_to_float(x[ib].d) * half_to_float(y[ib].d)) * static_cast<float>(sumi0 + sumi1) +
            half_to_float(x[ib].m) * half_to_float(y[ib].s);
  }
  return sumf;
}

float dot_q8_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < n / kQK; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
    sumf += static_cast<float>(sumi) * (half_to_float(x[ib].d) * half_to_float(y[ib].d));
  }
  return sumf;
}

}  // namespace hearth::backend_cpu

#include "weight_rows.hpp"

#include <hearth/sdk/half.hpp>

#include <cstring>

#include "dequantize_blocks.hpp"
#include "float_dot.hpp"
#include "nf4_kernels.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {
namespace {

uint16_t load_u16(const void* p, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const unsigned char*>(p) + 2 * i, sizeof v);
  return v;
}

float sum_lanes(const float (&lanes)[8]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

template <class Load>
float dot_lanes(Load load, const float* x, int64_t n) {
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += load(i + l) * x[i + l];
  for (; i < n; ++i) lanes[i % 8] += load(i) * x[i];
  return sum_lanes(lanes);
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_lanes([a](int64_t i) { return a[i]; }, b, n);
}

float dot_weight_row(hearth_dtype dtype, const void* row, const float* x, int64_t n, bool simd) {
  const bool avx2 = simd && cpu_has_avx2();
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return avx2 ? dot_f32_avx2(static_cast<const float*>(row), x, n)
                  : dot_f32(static_cast<const float*>(row), x, n);
    case HEARTH_DTYPE_F16:
      if (avx2) return dot_f16_avx2(static_cast<const uint16_t*>(row), x, n);
      return dot_lanes([row](int64_t i) { return sdk::fp16_to_fp32(load_u16(row, i)); }, x, n);
    case HEARTH_DTYPE_BF16:
      if (avx2) return dot_bf16_avx2(static_cast<const uint16_t*>(row), x, n);
      return dot_lanes([row](int64_t i) { return sdk::bf16_to_fp32(load_u16(row, i)); }, x, n);
    default:
      return 0.0f;  // quantized types go through quant_kernels.hpp
  }
}

void dequantize_weight_row(hearth_dtype dtype, const void* row, float* out, int64_t n) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
      return;
    case HEARTH_DTYPE_F16:
      if (cpu_has_avx2()) return f16_row_to_f32_avx2(static_cast<const uint16_t*>(row), out, n);
      for (int64_t i = 0; i < n; ++i) out[i] = sdk::fp16_to_fp32(load_u16(row, i));
      return;
    case HEARTH_DTYPE_BF16:
      if (cpu_has_avx2()) return bf16_row_to_f32_avx2(static_cast<const uint16_t*>(row), out, n);
      for (int64_t i = 0; i < n; ++i) out[i] = sdk::bf16_to_fp32(load_u16(row, i));
      return;
    case HEARTH_DTYPE_NF4:
      nf4_dequantize_row(row, out, n);
      return;
    default:
      dequantize_blocks(dtype, row, out, n);  // op_validation admits only types it knows
      return;
  }
}

}  // namespace hearth::backend_cpu

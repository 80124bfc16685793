// Scalar NF4 kernels (the references) and the run-time choice of the SIMD ones.
#include <cstring>

#include "nf4_kernels.hpp"
#include "nf4_table.hpp"
#include "quant_kernels.hpp"

namespace hearth::backend_cpu {

void dequantize_row_nf4(const void* row, float* out, int64_t n) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    float d;
    std::memcpy(&d, block, sizeof d);
    for (int j = 0; j < kNf4BlockElems / 2; ++j) {
      out[b * kNf4BlockElems + 2 * j] = kNf4Table[block[4 + j] >> 4] * d;
      out[b * kNf4BlockElems + 2 * j + 1] = kNf4Table[block[4 + j] & 0x0F] * d;
    }
  }
}

float dot_nf4_f32(int64_t n, const void* row, const float* x) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kNf4BlockElems; ++b) {
    const unsigned char* block = bytes + b * kNf4BlockBytes;
    const float* xb = x + b * kNf4BlockElems;
    float d;
    std::memcpy(&d, block, sizeof d);
    float block_sum = 0.0f;
    for (int j = 0; j < kNf4BlockElems / 2; ++j) {
      block_sum += kNf4Table[block[4 + j] >> 4] * xb[2 * j];
      block_sum += kNf4Table[block[4 + j] & 0x0F] * xb[2 * j + 1];
    }
    sum += block_sum * d;
  }
  return sum;
}

void nf4_pair_activations(const float* x, int64_t n, float* xp) {
  for (int64_t pair = 0; pair < n / (2 * kNf4BlockElems); ++pair)
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t i = 0; i < 16; ++i)
        xp[(pair * 8 + j) * 16 + i] =
            x[kNf4BlockElems * (2 * pair + i / 8) + 8 * (i % 8) + 2 * (j / 2) + (j % 2 == 0)];
}

void nf4_dequantize_row(const void* row, float* out, int64_t n, bool simd) {
  if (simd && cpu_has_avx512_vnni()) return dequantize_row_nf4_avx512(row, out, n);
  if (simd && cpu_has_avx2()) return dequantize_row_nf4_avx2(row, out, n);
  dequantize_row_nf4(row, out, n);
}

float nf4_dot(int64_t n, const void* row, const float* x, bool simd) {
  if (simd && cpu_has_avx512_vnni()) return dot_nf4_f32_avx512(n, row, x);
  return simd && cpu_has_avx2() ? dot_nf4_f32_avx2(n, row, x) : dot_nf4_f32(n, row, x);
}

}  // namespace hearth::backend_cpu

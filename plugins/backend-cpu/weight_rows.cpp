#include "weight_rows.hpp"

#include <hearth/sdk/half.hpp>

#include <cstring>

namespace hearth::backend_cpu {
namespace {

constexpr int64_t kBlock = 32;
constexpr int64_t kQ8_0Bytes = 34;  // f16 d, int8 qs[32]
constexpr int64_t kQ4_0Bytes = 18;  // f16 d, uint8 qs[16]: element i low nibble, i+16 high

// Rows of 34- or 18-byte blocks leave d unaligned, so it is read bytewise.
float block_scale(const unsigned char* block) {
  uint16_t bits;
  std::memcpy(&bits, block, sizeof bits);
  return sdk::fp16_to_fp32(bits);
}

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

float dot_q8_0(const unsigned char* row, const float* x, int64_t n) {
  float total = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const unsigned char* block = row + b * kQ8_0Bytes;
    const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
    const float* xb = x + b * kBlock;
    float sum = 0.0f;
    for (int j = 0; j < kBlock; ++j) sum += static_cast<float>(qs[j]) * xb[j];
    total += sum * block_scale(block);
  }
  return total;
}

float dot_q4_0(const unsigned char* row, const float* x, int64_t n) {
  float total = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const unsigned char* block = row + b * kQ4_0Bytes;
    const unsigned char* qs = block + 2;
    const float* xb = x + b * kBlock;
    float sum = 0.0f;
    for (int j = 0; j < kBlock / 2; ++j) {
      sum += static_cast<float>((qs[j] & 0x0F) - 8) * xb[j];
      sum += static_cast<float>((qs[j] >> 4) - 8) * xb[j + kBlock / 2];
    }
    total += sum * block_scale(block);
  }
  return total;
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_lanes([a](int64_t i) { return a[i]; }, b, n);
}

float dot_weight_row(hearth_dtype dtype, const void* row, const float* x, int64_t n) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      return dot_f32(static_cast<const float*>(row), x, n);
    case HEARTH_DTYPE_F16:
      return dot_lanes([row](int64_t i) { return sdk::fp16_to_fp32(load_u16(row, i)); }, x, n);
    case HEARTH_DTYPE_BF16:
      return dot_lanes([row](int64_t i) { return sdk::bf16_to_fp32(load_u16(row, i)); }, x, n);
    case HEARTH_DTYPE_Q8_0:
      return dot_q8_0(static_cast<const unsigned char*>(row), x, n);
    case HEARTH_DTYPE_Q4_0:
      return dot_q4_0(static_cast<const unsigned char*>(row), x, n);
    default:
      return 0.0f;  // op_validation admits only the dtypes above
  }
}

void dequantize_weight_row(hearth_dtype dtype, const void* row, float* out, int64_t n) {
  const auto* bytes = static_cast<const unsigned char*>(row);
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
      return;
    case HEARTH_DTYPE_F16:
      for (int64_t i = 0; i < n; ++i) out[i] = sdk::fp16_to_fp32(load_u16(row, i));
      return;
    case HEARTH_DTYPE_BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = sdk::bf16_to_fp32(load_u16(row, i));
      return;
    case HEARTH_DTYPE_Q8_0:
      for (int64_t b = 0; b < n / kBlock; ++b) {
        const unsigned char* block = bytes + b * kQ8_0Bytes;
        const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
        const float d = block_scale(block);
        for (int j = 0; j < kBlock; ++j) out[b * kBlock + j] = static_cast<float>(qs[j]) * d;
      }
      return;
    case HEARTH_DTYPE_Q4_0:
      for (int64_t b = 0; b < n / kBlock; ++b) {
        const unsigned char* block = bytes + b * kQ4_0Bytes;
        const unsigned char* qs = block + 2;
        const float d = block_scale(block);
        for (int j = 0; j < kBlock / 2; ++j) {
          out[b * kBlock + j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
          out[b * kBlock + j + kBlock / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
        }
      }
      return;
    default:
      return;
  }
}

}  // namespace hearth::backend_cpu

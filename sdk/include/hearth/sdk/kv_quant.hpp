// The KV slot record (abi.h, HEARTH_OP_ATTENTION_SLOTS): one token's K or V head vector at 16, 8,
// 4, 2 or 1 bits. Core writes records with these functions and backends read them, so both
// sides agree on every bit. Group-wise asymmetric quantization as KIVI's quant/new_pack.py
// (../shared/specs/kv_policies.md §6.1): per group of channels an F16 scale and an F16 min.
#pragma once

#include <hearth/sdk/abi.h>
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace hearth::sdk {

inline bool kv_bits_valid(uint32_t bits) {
  return bits == 16 || bits == 8 || bits == 4 || bits == 2 || bits == 1;
}

// Writes hearth_kv_record_bytes(bits, head_dim, group_size) bytes. head_dim must be a multiple
// of group_size. The codes are computed against the F16-rounded scale and min that are stored,
// so dequantization reproduces what was meant rather than what rounding left.
inline void kv_quantize_record(const float* x, uint32_t bits, uint32_t head_dim,
                               uint32_t group_size, uint8_t* out) {
  if (bits == 16) {
    for (uint32_t c = 0; c < head_dim; ++c) {
      const uint16_t h = fp32_to_fp16(x[c]);
      std::memcpy(out + 2 * c, &h, 2);
    }
    return;
  }
  const uint32_t n_groups = head_dim / group_size;
  uint8_t* codes = out + 4 * n_groups;
  std::memset(codes, 0, (static_cast<size_t>(head_dim) * bits + 7) / 8);
  const float max_code = static_cast<float>((1u << bits) - 1);
  for (uint32_t g = 0; g < n_groups; ++g) {
    const float* group = x + static_cast<size_t>(g) * group_size;
    const auto [lo, hi] = std::minmax_element(group, group + group_size);
    const uint16_t min16 = fp32_to_fp16(*lo);
    const uint16_t scale16 = fp32_to_fp16((*hi - *lo) / max_code);
    std::memcpy(out + 4 * g, &scale16, 2);
    std::memcpy(out + 4 * g + 2, &min16, 2);
    const float scale = fp16_to_fp32(scale16);
    const float min = fp16_to_fp32(min16);
    for (uint32_t c = 0; c < group_size; ++c) {
      float q = 0.0f;
      if (scale > 0.0f) q = std::clamp(std::nearbyint((group[c] - min) / scale), 0.0f, max_code);
      const uint32_t code = static_cast<uint32_t>(q);
      const size_t bit = static_cast<size_t>(g * group_size + c) * bits;
      // Codes of 1, 2, 4 and 8 bits never straddle a byte.
      codes[bit / 8] = static_cast<uint8_t>(codes[bit / 8] | (code << (bit % 8)));
    }
  }
}

inline void kv_dequantize_record(const uint8_t* record, uint32_t bits, uint32_t head_dim,
                                 uint32_t group_size, float* out) {
  if (bits == 16) {
    for (uint32_t c = 0; c < head_dim; ++c) {
      uint16_t h;
      std::memcpy(&h, record + 2 * c, 2);
      out[c] = fp16_to_fp32(h);
    }
    return;
  }
  const uint32_t n_groups = head_dim / group_size;
  const uint8_t* codes = record + 4 * n_groups;
  const uint32_t mask = (1u << bits) - 1;
  for (uint32_t g = 0; g < n_groups; ++g) {
    uint16_t scale16, min16;
    std::memcpy(&scale16, record + 4 * g, 2);
    std::memcpy(&min16, record + 4 * g + 2, 2);
    const float scale = fp16_to_fp32(scale16);
    const float min = fp16_to_fp32(min16);
    for (uint32_t c = 0; c < group_size; ++c) {
      const size_t bit = static_cast<size_t>(g * group_size + c) * bits;
      const uint32_t code = (codes[bit / 8] >> (bit % 8)) & mask;
      out[g * group_size + c] = static_cast<float>(code) * scale + min;
    }
  }
}

}  // namespace hearth::sdk

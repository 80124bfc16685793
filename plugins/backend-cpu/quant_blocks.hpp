// ggml's block layouts (ggml-common.h) as plain structs, for the weight types MATMUL and
// EMBEDDING read and the activation types (Q8_0, Q8_1, Q8_K) ggml quantizes activations to.
// Spec: shared/specs/gguf.md §4. Every struct is exactly its on-disk size, with alignment 1 or
// 2 (Q8_K: 4), so a row of blocks may be addressed in place: weight rows are 2-byte aligned
// (op_validation checks that), activation rows live in the device's 64-byte aligned scratch.
#pragma once

#include <hearth/sdk/half.hpp>

#include <cstdint>

namespace hearth::backend_cpu {

inline constexpr int kQK = 32;     // elements per legacy block
inline constexpr int kQK_K = 256;  // elements per K-quant super-block

using Half = uint16_t;  // IEEE binary16 bits

struct BlockQ4_0 {
  Half d;
  uint8_t qs[kQK / 2];  // element i in the low nibble of qs[i], element i+16 in the high
};
struct BlockQ4_1 {
  Half d;
  Half m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  Half d;
  uint8_t qh[4];  // 5th bits, one little-endian uint32: bit i belongs to element i
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  Half d;
  Half m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  Half d;
  int8_t qs[kQK];
};
struct BlockQ8_1 {
  Half d;
  Half s;  // d * sum(qs)
  int8_t qs[kQK];
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // low nibble: scale, high nibble: min, per 16 elements
  uint8_t qs[kQK_K / 4];
  Half d;
  Half dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];  // sixteen 6-bit scales, offset by 32
  Half d;
};
struct BlockQ4_K {
  Half d;
  Half dmin;
  uint8_t scales[12];  // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  Half d;
  Half dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  Half d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sum of each 16 quants
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

inline float half_to_float(Half h) { return sdk::fp16_to_fp32(h); }

// Q4_K/Q5_K: unpacks the 12 scale bytes into 8 scales and 8 mins (ggml's get_scale_min_k4).
inline void unpack_scales_k4(const uint8_t* q, uint8_t (&scales)[8], uint8_t (&mins)[8]) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = q[j] & 63;
      mins[j] = q[j + 4] & 63;
    } else {
      scales[j] = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
      mins[j] = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
  }
}

// Q3_K: the sixteen scales of a super-block, -32..31.
inline void unpack_scales_q3_k(const uint8_t* scales, int8_t (&out)[16]) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
    const int high = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

}  // namespace hearth::backend_cpu

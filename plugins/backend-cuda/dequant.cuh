// Weight decoding in registers, straight from GGUF's block layouts (see shared/specs/gguf.md §4):
// load8<DT>(row, g, w) writes elements [8g, 8g + 8) of one weight row. Eight elements never cross
// a block, so one call reads one block's scales and 8 (or 4) bytes of quants. For the plain
// types the row must be 16-byte aligned and a multiple of 8 long (the caller checks); load1 reads
// any single element of any type.
#pragma once

#include "gpu_device_code.cuh"

namespace hearth::backend_gpu {

// Four bytes at a 2-byte-aligned address (block types of 18, 22, 34 and 210 bytes leave their
// quants only 2-byte aligned), little-endian.
__device__ __forceinline__ uint32_t u32_at_2aligned(const uint8_t* p) {
  const auto* h = reinterpret_cast<const uint16_t*>(p);
  return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
}

__device__ __forceinline__ uint32_t u32_at(const uint8_t* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block s (get_scale_min_k4).
__device__ __forceinline__ void scale_min_k4(const uint8_t* q, int s, float& sc, float& mn) {
  if (s < 4) {
    sc = static_cast<float>(q[s] & 63);
    mn = static_cast<float>(q[s + 4] & 63);
  } else {
    sc = static_cast<float>((q[s + 4] & 0x0F) | ((q[s - 4] >> 6) << 4));
    mn = static_cast<float>((q[s + 4] >> 4) | ((q[s] >> 6) << 4));
  }
}

template <uint32_t DT>
__device__ __forceinline__ void load8(const uint8_t* row, int64_t g, float (&w)[8]) {
  if constexpr (DT == HEARTH_DTYPE_F32) {
    const float4 a = reinterpret_cast<const float4*>(row)[2 * g];
    const float4 b = reinterpret_cast<const float4*>(row)[2 * g + 1];
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
  } else if constexpr (DT == HEARTH_DTYPE_F16 || DT == HEARTH_DTYPE_BF16) {
    const uint4 u = reinterpret_cast<const uint4*>(row)[g];
    const uint32_t words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const auto lo = static_cast<uint16_t>(words[k] & 0xFFFFu);
      const auto hi = static_cast<uint16_t>(words[k] >> 16);
      if constexpr (DT == HEARTH_DTYPE_F16) {
        w[2 * k] = half_bits_to_float(lo);
        w[2 * k + 1] = half_bits_to_float(hi);
      } else {
        w[2 * k] = bf16_bits_to_float(lo);
        w[2 * k + 1] = bf16_bits_to_float(hi);
      }
    }
  } else if constexpr (DT == HEARTH_DTYPE_Q8_0) {
    const uint8_t* block = row + (g >> 2) * 34;
    const float d = f16_at(block);
    const auto* qs = reinterpret_cast<const int8_t*>(block + 2) + (g & 3) * 8;
#pragma unroll
    for (int k = 0; k < 8; ++k) w[k] = static_cast<float>(qs[k]) * d;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_0) {
    const uint8_t* block = row + (g >> 2) * 18;
    const float d = f16_at(block);
    const int sub = static_cast<int>(g & 3);
    const uint8_t* qs = block + 2 + (sub & 1) * 8;
    const int shift = (sub >> 1) * 4;
#pragma unroll
    for (int k = 0; k < 8; ++k) w[k] = static_cast<float>(((qs[k] >> shift) & 0x0F) - 8) * d;
  } else if constexpr (DT == HEARTH_DTYPE_Q5_0) {
    // d (f16), qh (32 fifth bits), qs[16]: element j < 16 is the low nibble of qs[j], j >= 16
    // the high nibble of qs[j - 16]; bit j of qh is its fifth bit; value (q - 16) d.
    const uint8_t* block = row + (g >> 2) * 22;
    const float d = f16_at(block);
    const uint32_t qh = u32_at_2aligned(block + 2);
    const int sub = static_cast<int>(g & 3);
    const uint8_t* qs = block + 6 + (sub & 1) * 8;
    const int shift = (sub >> 1) * 4;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const int q = ((qs[k] >> shift) & 0x0F) | static_cast<int>((qh >> (sub * 8 + k)) & 1u) << 4;
      w[k] = static_cast<float>(q - 16) * d;
    }
  } else if constexpr (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) {
    constexpr int kBlockBytes = DT == HEARTH_DTYPE_Q4_K ? 144 : 176;
    const uint8_t* block = row + (g >> 5) * kBlockBytes;
    const int e0 = static_cast<int>(g & 31) * 8;
    const int c = e0 >> 6;
    const int t = (e0 >> 5) & 1;
    const int l0 = e0 & 31;
    const int s = 2 * c + t;
    float sc, mn;
    scale_min_k4(block + 4, s, sc, mn);
    const float scale = f16_at(block) * sc;
    const float min = f16_at(block + 2) * mn;
    const uint8_t* qs = block + (DT == HEARTH_DTYPE_Q4_K ? 16 : 48) + 32 * c + l0;
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      int q = t ? qs[k] >> 4 : qs[k] & 0x0F;
      if constexpr (DT == HEARTH_DTYPE_Q5_K) q |= ((block[16 + l0 + k] >> s) & 1) << 4;
      w[k] = scale * static_cast<float>(q) - min;
    }
  } else if constexpr (DT == HEARTH_DTYPE_Q6_K) {
    const uint8_t* block = row + (g >> 5) * 210;
    const int e0 = static_cast<int>(g & 31) * 8;
    const int h = e0 >> 7;
    const int k4 = (e0 >> 5) & 3;
    const int l0 = e0 & 31;
    const uint8_t* ql = block + 64 * h + (k4 & 1) * 32 + l0;
    const uint8_t* qh = block + 128 + 32 * h + l0;
    const int lo_shift = (k4 >> 1) * 4;
    const int hi_shift = 2 * k4;
    const float scale = f16_at(block + 208) *
                        static_cast<float>(reinterpret_cast<const int8_t*>(block + 192)[e0 / 16]);
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const int q = (((ql[k] >> lo_shift) & 0x0F) | (((qh[k] >> hi_shift) & 3) << 4)) - 32;
      w[k] = scale * static_cast<float>(q);
    }
  }
}

template <uint32_t DT>
__device__ __forceinline__ float load1(const uint8_t* row, int64_t i) {
  if constexpr (DT == HEARTH_DTYPE_F32) {
    return reinterpret_cast<const float*>(row)[i];
  } else if constexpr (DT == HEARTH_DTYPE_F16) {
    return half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[i]);
  } else if constexpr (DT == HEARTH_DTYPE_BF16) {
    return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(row)[i]);
  } else {
    float w[8];
    load8<DT>(row, i / 8, w);
    float out = w[0];
#pragma unroll
    for (int k = 1; k < 8; ++k)
      if ((i & 7) == k) out = w[k];
    return out;
  }
}

// Whether the type decodes in groups of 8 without alignment conditions (the block types).
template <uint32_t DT>
inline constexpr bool kIsBlockType =
    !(DT == HEARTH_DTYPE_F32 || DT == HEARTH_DTYPE_F16 || DT == HEARTH_DTYPE_BF16);

// Calls f.template operator()<DT>() for the weight type of t, or returns false.
template <class F>
bool dispatch_weight_type(uint32_t dtype, F&& f) {
  switch (dtype) {
    case HEARTH_DTYPE_F32:
      f.template operator()<HEARTH_DTYPE_F32>();
      return true;
    case HEARTH_DTYPE_F16:
      f.template operator()<HEARTH_DTYPE_F16>();
      return true;
    case HEARTH_DTYPE_BF16:
      f.template operator()<HEARTH_DTYPE_BF16>();
      return true;
    case HEARTH_DTYPE_Q8_0:
      f.template operator()<HEARTH_DTYPE_Q8_0>();
      return true;
    case HEARTH_DTYPE_Q4_0:
      f.template operator()<HEARTH_DTYPE_Q4_0>();
      return true;
    case HEARTH_DTYPE_Q5_0:
      f.template operator()<HEARTH_DTYPE_Q5_0>();
      return true;
    case HEARTH_DTYPE_Q4_K:
      f.template operator()<HEARTH_DTYPE_Q4_K>();
      return true;
    case HEARTH_DTYPE_Q5_K:
      f.template operator()<HEARTH_DTYPE_Q5_K>();
      return true;
    case HEARTH_DTYPE_Q6_K:
      f.template operator()<HEARTH_DTYPE_Q6_K>();
      return true;
    default:
      return false;
  }
}

}  // namespace hearth::backend_gpu

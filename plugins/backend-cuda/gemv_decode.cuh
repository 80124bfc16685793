// Weight decoding for the decode GEMV (gemv_kernels.cuh). A "group" is the 8 weights one lane
// multiplies per step, chosen so a warp's 32 lanes read one contiguous stretch of quant bytes and
// every lane uses all the bits it loads: two runs of 4 elements at columns c0 and c1. For the
// nibble types the low and high nibbles of the same 4 bytes are the two runs (GGUF stores a block
// as low nibbles of 32 bytes, then their high nibbles), which is why c1 is not c0 + 4.
// Group g of a row covers 8 of its elements for every type; n_in / 8 groups make a row.
#pragma once

#include "dequant.cuh"

namespace hearth::backend_gpu {

// First columns of group g's two runs of 4 elements.
template <uint32_t DT>
__device__ __forceinline__ void gemv_group_columns(int64_t g, int64_t& c0, int64_t& c1) {
  if constexpr (DT == HEARTH_DTYPE_Q4_0 || DT == HEARTH_DTYPE_Q5_0) {
    c0 = (g >> 2) * 32 + (g & 3) * 4;
    c1 = c0 + 16;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) {
    const int64_t j = g & 31;
    c0 = (g >> 5) * 256 + (j >> 3) * 64 + (j & 7) * 4;
    c1 = c0 + 32;
  } else if constexpr (DT == HEARTH_DTYPE_Q6_K) {
    const int64_t j = g & 31;
    c0 = (g >> 5) * 256 + (j >> 4) * 128 + ((j >> 3) & 1) * 32 + (j & 7) * 4;
    c1 = c0 + 64;
  } else {  // F32, F16, BF16, Q8_0: 8 consecutive elements
    c0 = g * 8;
    c1 = c0 + 4;
  }
}

// Byte k (0..3) of v as an exact float, without the slow int-to-float conversion: the byte
// becomes the low mantissa bits of 2^23, which a subtraction then removes exactly.
__device__ __forceinline__ float byte_as_float(uint32_t v, int k) {
  return __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7540u + static_cast<unsigned>(k))) -
         8388608.0f;
}

// Bits 0-3 of b moved to bit 4 of bytes 0-3 (Q5_0's fifth bits joining their nibbles).
__device__ __forceinline__ uint32_t fifth_bits(uint32_t b) {
  return ((b & 1u) | ((b & 2u) << 7) | ((b & 4u) << 14) | ((b & 8u) << 21)) << 4;
}

// Group g of a row, decoded for a factored dot product: w[k] = q[k] * s0 + m0 for k < 4 (the run
// at c0) and q[k] * s1 + m1 for k >= 4 (the run at c1). Callers multiply q by the activations
// and apply the scale and the offset once per run (the offset times the run's activation sum).
struct GemvGroup {
  float q[8];
  float s0, m0, s1, m1;
};

// Scale and min of sub-block s of a Q4_K/Q5_K block whose packed scale bytes 0-3, 4-7 and 8-11
// are the words a, b and c (branch-free form of scale_min_k4: lanes of a warp differ in s).
__device__ __forceinline__ void scale_min_words(uint32_t a, uint32_t b, uint32_t c, int s,
                                                float& sc, float& mn) {
  const int sh = 8 * (s & 3);
  const uint32_t lo_sc = (a >> sh) & 63u, lo_mn = (b >> sh) & 63u;
  const uint32_t hi_sc = ((c >> sh) & 0x0Fu) | (((a >> sh) >> 6 & 3u) << 4);
  const uint32_t hi_mn = ((c >> sh) >> 4 & 0x0Fu) | (((b >> sh) >> 6 & 3u) << 4);
  sc = static_cast<float>(s < 4 ? lo_sc : hi_sc);
  mn = static_cast<float>(s < 4 ? lo_mn : hi_mn);
}

// Whether gemv_group_factored decodes DT (the block types); plain types use gemv_group.
template <uint32_t DT>
inline constexpr bool kGemvFactored =
    !(DT == HEARTH_DTYPE_F32 || DT == HEARTH_DTYPE_F16 || DT == HEARTH_DTYPE_BF16);

// The 8 weights of group g of a plain row (F32/F16/BF16, 16-byte aligned): one or two 16-byte
// loads.
template <uint32_t DT>
__device__ __forceinline__ void gemv_group(const uint8_t* row, int64_t g, float (&w)[8]) {
  load8<DT>(row, g, w);
}

// Group g of a block-type row. K-quant rows must be 16-byte aligned (their 16-byte header is one
// load), the others 2-byte aligned.
template <uint32_t DT>
__device__ __forceinline__ void gemv_group_factored(const uint8_t* row, int64_t g, GemvGroup& o) {
  if constexpr (DT == HEARTH_DTYPE_Q8_0) {
    const uint8_t* block = row + (g >> 2) * 34;
    const float d = f16_at(block);
    const uint8_t* qs = block + 2 + (g & 3) * 8;
    // Flipping the sign bit maps int8 q to q + 128 as a byte; the offset takes the 128 back.
    const uint32_t a = u32_at_2aligned(qs) ^ 0x80808080u;
    const uint32_t b = u32_at_2aligned(qs + 4) ^ 0x80808080u;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      o.q[k] = byte_as_float(a, k);
      o.q[4 + k] = byte_as_float(b, k);
    }
    o.s0 = o.s1 = d;
    o.m0 = o.m1 = -128.0f * d;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_0) {
    const uint8_t* block = row + (g >> 2) * 18;
    const float d = f16_at(block);
    const uint32_t v = u32_at_2aligned(block + 2 + (g & 3) * 4);
    const uint32_t lo = v & 0x0F0F0F0Fu;
    const uint32_t hi = (v >> 4) & 0x0F0F0F0Fu;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      o.q[k] = byte_as_float(lo, k);
      o.q[4 + k] = byte_as_float(hi, k);
    }
    o.s0 = o.s1 = d;
    o.m0 = o.m1 = -8.0f * d;
  } else if constexpr (DT == HEARTH_DTYPE_Q5_0) {
    const uint8_t* block = row + (g >> 2) * 22;
    const float d = f16_at(block);
    const uint32_t qh = u32_at_2aligned(block + 2);
    const int l0 = static_cast<int>(g & 3) * 4;
    const uint32_t v = u32_at_2aligned(block + 6 + l0);
    const uint32_t lo = (v & 0x0F0F0F0Fu) | fifth_bits((qh >> l0) & 0xFu);
    const uint32_t hi = ((v >> 4) & 0x0F0F0F0Fu) | fifth_bits((qh >> (l0 + 16)) & 0xFu);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      o.q[k] = byte_as_float(lo, k);
      o.q[4 + k] = byte_as_float(hi, k);
    }
    o.s0 = o.s1 = d;
    o.m0 = o.m1 = -16.0f * d;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) {
    constexpr bool kQ5 = DT == HEARTH_DTYPE_Q5_K;
    const uint8_t* block = row + (g >> 5) * (kQ5 ? 176 : 144);
    const int j = static_cast<int>(g & 31);
    const int c = j >> 3;
    const int l0 = (j & 7) * 4;
    const uint4 head = *reinterpret_cast<const uint4*>(block);  // d, dmin, scales[12]
    float sc0, mn0, sc1, mn1;
    scale_min_words(head.y, head.z, head.w, 2 * c, sc0, mn0);
    scale_min_words(head.y, head.z, head.w, 2 * c + 1, sc1, mn1);
    const float d = half_bits_to_float(static_cast<uint16_t>(head.x & 0xFFFFu));
    const float dmin = half_bits_to_float(static_cast<uint16_t>(head.x >> 16));
    o.s0 = d * sc0, o.m0 = -dmin * mn0, o.s1 = d * sc1, o.m1 = -dmin * mn1;
    const uint32_t v = u32_at(block + (kQ5 ? 48 : 16) + 32 * c + l0);
    uint32_t lo = v & 0x0F0F0F0Fu;
    uint32_t hi = (v >> 4) & 0x0F0F0F0Fu;
    if constexpr (kQ5) {  // bit 2c (low run) and 2c + 1 (high run) of qh[l] become bit 4
      const uint32_t qh = u32_at(block + 16 + l0);
      lo |= ((qh >> (2 * c)) & 0x01010101u) << 4;
      hi |= ((qh >> (2 * c + 1)) & 0x01010101u) << 4;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      o.q[k] = byte_as_float(lo, k);
      o.q[4 + k] = byte_as_float(hi, k);
    }
  } else if constexpr (DT == HEARTH_DTYPE_Q6_K) {
    const uint8_t* block = row + (g >> 5) * 210;
    const int j = static_cast<int>(g & 31);
    const int h = j >> 4;
    const int kp = (j >> 3) & 1;  // runs k = kp (low nibbles) and k = kp + 2 (high nibbles)
    const int l0 = (j & 7) * 4;
    const uint32_t ql = u32_at_2aligned(block + 64 * h + 32 * kp + l0);
    const uint32_t qh = u32_at_2aligned(block + 128 + 32 * h + l0);
    const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
    const float d = f16_at(block + 208);
    const int sub = 8 * h + 2 * kp + l0 / 16;  // (128h + 32kp + l0) / 16
    o.s0 = d * static_cast<float>(scales[sub]);
    o.s1 = d * static_cast<float>(scales[sub + 4]);  // 64 elements later
    o.m0 = -32.0f * o.s0, o.m1 = -32.0f * o.s1;
    const uint32_t lo = (ql & 0x0F0F0F0Fu) | (((qh >> (2 * kp)) & 0x03030303u) << 4);
    const uint32_t hi = ((ql >> 4) & 0x0F0F0F0Fu) | (((qh >> (2 * kp + 4)) & 0x03030303u) << 4);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      o.q[k] = byte_as_float(lo, k);
      o.q[4 + k] = byte_as_float(hi, k);
    }
  }
}

// ------------------------------------------------------------------ q8 route
// The quantized types' decode GEMV against activations quantized to q8 blocks (gemv_kernels.cuh).
// A "chunk" is the work of one lane step: 16 bytes of quants, i.e. 32 weights of the 4/5/6-bit
// types (two halves of 16 weights, each from its own scale) or 16 weights of Q8_0 (one half).
// Each half is 4 words of 4 int8 weights (unsigned 0..63 or signed), a weight scale sw and offset
// mw (w = sw * q + mw), and 16 activations: half `half` of q8 activation block `blk`.

template <uint32_t DT>
inline constexpr bool kQ8Route =
    DT == HEARTH_DTYPE_Q8_0 || DT == HEARTH_DTYPE_Q4_0 || DT == HEARTH_DTYPE_Q5_0 ||
    DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K || DT == HEARTH_DTYPE_Q6_K;

// The K-quants multiply activations quantized as llama.cpp's Q8_K (one float scale per 256, from
// the signed extreme); the others as its Q8_0 (f16 scale per 32). Same scratch layout for both.
template <uint32_t DT>
inline constexpr bool kQ8SuperBlocks =
    DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K || DT == HEARTH_DTYPE_Q6_K;

template <uint32_t DT>
inline constexpr int kQ8Halves = DT == HEARTH_DTYPE_Q8_0 ? 1 : 2;

// Weights per chunk; a row of n weights has n / kQ8ChunkWeights chunks.
template <uint32_t DT>
inline constexpr int64_t kQ8ChunkWeights = 16 * kQ8Halves<DT>;

// Q8_0's weights are symmetric: no offset term.
template <uint32_t DT>
inline constexpr bool kQ8HasOffset = DT != HEARTH_DTYPE_Q8_0;

struct Q8Chunk {
  int v[2][4];
  float sw[2], mw[2];
};

// Activation block and half of each half of chunk c (the same for every row).
template <uint32_t DT>
__device__ __forceinline__ void q8_chunk_activations(int64_t c, int64_t (&blk)[2], int (&half)[2]) {
  if constexpr (DT == HEARTH_DTYPE_Q8_0) {
    blk[0] = blk[1] = c >> 1;
    half[0] = half[1] = static_cast<int>(c & 1);
  } else if constexpr (DT == HEARTH_DTYPE_Q4_0 || DT == HEARTH_DTYPE_Q5_0) {
    // low nibbles: elements 0-15, high: 16-31
    blk[0] = blk[1] = c;
    half[0] = 0, half[1] = 1;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) {
    // Chunk k of a super-block: bytes 16k..16k+15 of qs, i.e. elements 16j.. of sub-blocks 2q
    // (low nibbles) and 2q + 1 (high nibbles), q = k / 2, j = k % 2.
    const int64_t sb = c >> 3;
    const int k = static_cast<int>(c & 7);
    blk[0] = sb * 8 + (k >> 1) * 2;
    blk[1] = blk[0] + 1;
    half[0] = half[1] = k & 1;
  } else {  // Q6_K: ql bytes 16k.., elements 16j.. of runs kp (low) and kp + 2 (high) of half h
    const int64_t sb = c >> 3;
    const int k = static_cast<int>(c & 7);
    blk[0] = sb * 8 + (k >> 2) * 4 + ((k >> 1) & 1);
    blk[1] = blk[0] + 2;
    half[0] = half[1] = k & 1;
  }
}

// Chunk c of a row. Q4_K/Q5_K rows must be 16-byte aligned (uint4 loads), the others 2-byte.
template <uint32_t DT>
__device__ __forceinline__ void q8_chunk(const uint8_t* row, int64_t c, Q8Chunk& o) {
  if constexpr (DT == HEARTH_DTYPE_Q8_0) {
    const uint8_t* block = row + (c >> 1) * 34;
    const uint8_t* qs = block + 2 + (c & 1) * 16;
#pragma unroll
    for (int i = 0; i < 4; ++i) o.v[0][i] = static_cast<int>(u32_at_2aligned(qs + 4 * i));
    o.sw[0] = f16_at(block);
    o.mw[0] = 0.0f;
  } else if constexpr (DT == HEARTH_DTYPE_Q4_0) {
    const uint8_t* block = row + c * 18;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = u32_at_2aligned(block + 2 + 4 * i);
      o.v[0][i] = static_cast<int>(u & 0x0F0F0F0Fu);
      o.v[1][i] = static_cast<int>((u >> 4) & 0x0F0F0F0Fu);
    }
    o.sw[0] = o.sw[1] = f16_at(block);
    o.mw[0] = o.mw[1] = -8.0f * o.sw[0];
  } else if constexpr (DT == HEARTH_DTYPE_Q5_0) {
    const uint8_t* block = row + c * 22;
    const uint32_t qh = u32_at_2aligned(block + 2);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = u32_at_2aligned(block + 6 + 4 * i);
      o.v[0][i] = static_cast<int>((u & 0x0F0F0F0Fu) | fifth_bits((qh >> (4 * i)) & 0xFu));
      o.v[1][i] =
          static_cast<int>(((u >> 4) & 0x0F0F0F0Fu) | fifth_bits((qh >> (16 + 4 * i)) & 0xFu));
    }
    o.sw[0] = o.sw[1] = f16_at(block);
    o.mw[0] = o.mw[1] = -16.0f * o.sw[0];
  } else if constexpr (DT == HEARTH_DTYPE_Q4_K || DT == HEARTH_DTYPE_Q5_K) {
    constexpr bool kQ5 = DT == HEARTH_DTYPE_Q5_K;
    const uint8_t* block = row + (c >> 3) * (kQ5 ? 176 : 144);
    const int k = static_cast<int>(c & 7);
    const int q = k >> 1;
    const int j = k & 1;
    const uint4 head = *reinterpret_cast<const uint4*>(block);  // d, dmin, scales[12]
    const uint4 qs = *reinterpret_cast<const uint4*>(block + (kQ5 ? 48 : 16) + 16 * k);
    float sc0, mn0, sc1, mn1;
    scale_min_words(head.y, head.z, head.w, 2 * q, sc0, mn0);
    scale_min_words(head.y, head.z, head.w, 2 * q + 1, sc1, mn1);
    const float d = half_bits_to_float(static_cast<uint16_t>(head.x & 0xFFFFu));
    const float dmin = half_bits_to_float(static_cast<uint16_t>(head.x >> 16));
    o.sw[0] = d * sc0, o.mw[0] = -dmin * mn0, o.sw[1] = d * sc1, o.mw[1] = -dmin * mn1;
    const uint32_t words[4] = {qs.x, qs.y, qs.z, qs.w};
    uint32_t high_bits[4] = {0, 0, 0, 0};
    if constexpr (kQ5) {
      const uint4 qh = *reinterpret_cast<const uint4*>(block + 16 + 16 * j);
      high_bits[0] = qh.x, high_bits[1] = qh.y, high_bits[2] = qh.z, high_bits[3] = qh.w;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      uint32_t lo = words[i] & 0x0F0F0F0Fu;
      uint32_t hi = (words[i] >> 4) & 0x0F0F0F0Fu;
      if constexpr (kQ5) {  // bit 2q (low run) and 2q + 1 (high run) of qh[l] become bit 4
        lo |= ((high_bits[i] >> (2 * q)) & 0x01010101u) << 4;
        hi |= ((high_bits[i] >> (2 * q + 1)) & 0x01010101u) << 4;
      }
      o.v[0][i] = static_cast<int>(lo);
      o.v[1][i] = static_cast<int>(hi);
    }
  } else if constexpr (DT == HEARTH_DTYPE_Q6_K) {
    const uint8_t* block = row + (c >> 3) * 210;
    const int k = static_cast<int>(c & 7);
    const int h = k >> 2;
    const int kp = (k >> 1) & 1;
    const int j = k & 1;
    const uint8_t* ql = block + 16 * k;  // = 64h + 32kp + 16j
    const uint8_t* qh = block + 128 + 32 * h + 16 * j;
    const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
    const float d = f16_at(block + 208);
    const int sub = 8 * h + 2 * kp + j;  // scale of 16 elements: (128h + 32kp + 16j) / 16
    o.sw[0] = d * static_cast<float>(scales[sub]);
    o.sw[1] = d * static_cast<float>(scales[sub + 4]);  // run kp + 2: 64 elements later
    o.mw[0] = -32.0f * o.sw[0], o.mw[1] = -32.0f * o.sw[1];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t l = u32_at_2aligned(ql + 4 * i);
      const uint32_t hb = u32_at_2aligned(qh + 4 * i);
      o.v[0][i] = static_cast<int>((l & 0x0F0F0F0Fu) | (((hb >> (2 * kp)) & 0x03030303u) << 4));
      o.v[1][i] =
          static_cast<int>(((l >> 4) & 0x0F0F0F0Fu) | (((hb >> (2 * kp + 4)) & 0x03030303u) << 4));
    }
  }
}

}  // namespace hearth::backend_gpu

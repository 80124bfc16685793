// NF4 decoding on the GPU (plugins/format-nf4/README.md, shared/specs/nf4.md §1-§3). A Hearth NF4
// block is 64 weights in 36 bytes: float32 absmax d, then 32 bytes of codes where byte j holds
// element 2j in its high nibble and 2j+1 in its low nibble. Kernels read a block as nine 32-bit
// words (blocks are 4-byte aligned, never 16): word 0 is d, words 1..8 each hold 8 codes, so one
// "unit" of work is one code word = 8 consecutive weights.
#pragma once

#include <hearth/sdk/abi.h>

#include "gpu_device_code.cuh"

namespace hearth::backend_gpu {

inline constexpr int kNf4BlockElems = HEARTH_NF4_BLOCK_ELEMS;
inline constexpr int kNf4BlockBytes = HEARTH_NF4_BLOCK_BYTES;
inline constexpr int kNf4UnitElems = 8;
inline constexpr int kNf4UnitsPerBlock = kNf4BlockElems / kNf4UnitElems;

// The spec §1 table (bitsandbytes get_4bit_type("nf4")); each literal is an exact float32.
__device__ __forceinline__ float nf4_value(int code) {
  constexpr float kValues[16] = HEARTH_NF4_CODEBOOK;
  return kValues[code];
}

// Fills a 16-entry shared table (the codes of a warp hit distinct banks or broadcast) and waits
// for it; every thread of the block must call this.
__device__ __forceinline__ void nf4_fill_table(float* table) {
  if (threadIdx.x < 16) table[threadIdx.x] = nf4_value(static_cast<int>(threadIdx.x));
  __syncthreads();
}

// Code of element e (0..7) of a little-endian code word: byte e/2, high nibble for even e.
__device__ __forceinline__ int nf4_code(uint32_t word, int e) {
  return static_cast<int>((word >> (8 * (e >> 1) + ((e & 1) ? 0 : 4))) & 0xFu);
}

// A little-endian 32-bit word at p; aligned says p is 4-byte aligned (uniform across the grid),
// otherwise it is assembled from bytes so misaligned tensors are slow, not a fault.
__device__ __forceinline__ uint32_t nf4_load_word(const uint8_t* p, bool aligned) {
  if (aligned) return *reinterpret_cast<const uint32_t*>(p);
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// Round-to-nearest-even float32 -> bfloat16 bits (torch's rule; NaN stays a quiet NaN).
__device__ __forceinline__ uint16_t nf4_float_to_bf16_bits(float v) {
  const uint32_t u = __float_as_uint(v);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ uint16_t nf4_float_to_f16_bits(float v) {
  return __half_as_ushort(__float2half_rn(v));
}

}  // namespace hearth::backend_gpu

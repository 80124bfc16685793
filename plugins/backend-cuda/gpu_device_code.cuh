// Device-side vocabulary shared by the kernels: the runtime headers, warp reductions over 32
// lanes, half/bfloat16 decoding and strided tensor addressing. Kernels treat a "warp" as 32
// lanes even where the hardware wave is 64 wide (shuffles take width 32).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

#if defined(HEARTH_GPU_HIP)
#include "vendor_hip.hpp"
#define HEARTH_SHFL_XOR(value, mask) __shfl_xor((value), (mask), 32)
#else
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define HEARTH_SHFL_XOR(value, mask) __shfl_xor_sync(0xffffffffu, (value), (mask), 32)
#endif

namespace hearth::backend_gpu {

inline constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) v += HEARTH_SHFL_XOR(v, mask);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) v = fmaxf(v, HEARTH_SHFL_XOR(v, mask));
  return v;
}

__device__ __forceinline__ float half_bits_to_float(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

// c + the dot product of the four signed bytes of a with those of b (one instruction on sm_61+
// and on AMD targets with dot4 instructions; the quantized decode GEMV's inner product).
__device__ __forceinline__ int dot4_i8(int a, int b, int c) {
#if !defined(HEARTH_GPU_HIP)
  return __dp4a(a, b, c);
#elif defined(__gfx906__) || defined(__gfx908__) || defined(__gfx90a__) || defined(__gfx940__) || \
    defined(__gfx941__) || defined(__gfx942__) || defined(__gfx1030__)
  return __builtin_amdgcn_sdot4(a, b, c, false);
#else
  const auto byte = [](int v, int k) {
    return static_cast<int>(static_cast<int8_t>(v >> (8 * k)));
  };
  for (int k = 0; k < 4; ++k) c += byte(a, k) * byte(b, k);
  return c;
#endif
}

__device__ __forceinline__ float bf16_bits_to_float(uint16_t bits) {
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

// A little-endian f16 at any 2-byte-aligned address (GGUF block scales).
__device__ __forceinline__ float f16_at(const uint8_t* p) {
  return half_bits_to_float(*reinterpret_cast<const uint16_t*>(p));
}

// Byte offset of flat row r (i1 fastest), as tensor_view.hpp's flat_row_offset.
__device__ __forceinline__ int64_t flat_row_offset(const hearth_tensor& t, int64_t r) {
  const int64_t i1 = r % t.ne[1];
  const int64_t i2 = (r / t.ne[1]) % t.ne[2];
  const int64_t i3 = r / (t.ne[1] * t.ne[2]);
  return i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

template <class T>
__device__ __forceinline__ T* at_offset(const hearth_tensor& t, int64_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(t.data) + offset);
}

// Block-reduces v over blockDim.x threads (a multiple of 32, at most 1024); every thread gets
// the result. scratch holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int n_warps = static_cast<int>(blockDim.x) / kWarp;
  float total = lane < n_warps ? scratch[lane] : 0.0f;
  return warp_sum(total);
}

// The same in double (RMS_NORM's sum of squares, as ggml keeps it). scratch holds 32 doubles.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) v += HEARTH_SHFL_XOR(v, mask);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int n_warps = static_cast<int>(blockDim.x) / kWarp;
  double total = lane < n_warps ? scratch[lane] : 0.0;
#pragma unroll
  for (int mask = kWarp / 2; mask > 0; mask >>= 1) total += HEARTH_SHFL_XOR(total, mask);
  return total;
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int n_warps = static_cast<int>(blockDim.x) / kWarp;
  float total = lane < n_warps ? scratch[lane] : -INFINITY;
  return warp_max(total);
}

}  // namespace hearth::backend_gpu

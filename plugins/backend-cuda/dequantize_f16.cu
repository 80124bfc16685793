// Weight decoding and activation rounding for the cuBLAS prefill route. A thread decodes one
// group of 8 elements with dequant.cuh's load8 (one vector store of 16 bytes), or one element
// with load1 where a plain-typed row is not 16-byte aligned or not a multiple of 8 long.
#include <cuda_bf16.h>

#include "cs256_dequantize.hpp"
#include "dequant.cuh"
#include "dequantize_f16.hpp"
#include "nf4_kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kThreads = 256;

template <class T>
__device__ __forceinline__ T to_element(float v);
template <>
__device__ __forceinline__ __half to_element<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 to_element<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ float to_element<float>(float v) {
  return v;
}

// Eight consecutive outputs in one store; out must be 16-byte aligned for 2-byte T.
template <class T>
__device__ __forceinline__ void store8(T* out, const float (&v)[8]) {
  if constexpr (sizeof(T) == 2) {
    union {
      T e[8];
      uint4 u;
    } pack;
#pragma unroll
    for (int k = 0; k < 8; ++k) pack.e[k] = to_element<T>(v[k]);
    *reinterpret_cast<uint4*>(out) = pack.u;
  } else {
#pragma unroll
    for (int k = 0; k < 8; ++k) out[k] = to_element<T>(v[k]);
  }
}

template <uint32_t DT, class T>
__global__ void __launch_bounds__(kThreads)
    dequantize_grouped(hearth_tensor w, T* __restrict__ out, int64_t groups_per_row) {
  wait_for_prior_kernels();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t row = i / groups_per_row;
  if (row >= w.ne[1]) return;
  const int64_t g = i - row * groups_per_row;
  float v[8];
  load8<DT>(static_cast<const uint8_t*>(w.data) + row * w.nb[1], g, v);
  store8(out + row * w.ne[0] + g * 8, v);
}

template <uint32_t DT, class T>
__global__ void __launch_bounds__(kThreads)
    dequantize_single(hearth_tensor w, T* __restrict__ out) {
  wait_for_prior_kernels();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t row = i / w.ne[0];
  if (row >= w.ne[1]) return;
  const int64_t col = i - row * w.ne[0];
  out[i] = to_element<T>(load1<DT>(static_cast<const uint8_t*>(w.data) + row * w.nb[1], col));
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    convert_rows(hearth_tensor x, T* __restrict__ out, int64_t n_rows) {
  wait_for_prior_kernels();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t row = i / x.ne[0];
  if (row >= n_rows) return;
  const int64_t col = i - row * x.ne[0];
  out[i] = to_element<T>(at_offset<const float>(x, flat_row_offset(x, row))[col]);
}

unsigned blocks_for(int64_t threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

template <class T>
void dequantize_as(const hearth_tensor& w, T* out, cudaStream_t stream) {
  const bool aligned =
      reinterpret_cast<uintptr_t>(w.data) % 16 == 0 && (w.ne[1] == 1 || w.nb[1] % 16 == 0);
  const bool grouped_plain = w.ne[0] % 8 == 0 && aligned;
  dispatch_weight_type(w.dtype, [&]<uint32_t DT>() {
    if (kIsBlockType<DT> || grouped_plain) {
      const int64_t groups_per_row = w.ne[0] / 8;
      launch_after_prior(dequantize_grouped<DT, T>, blocks_for(groups_per_row * w.ne[1]), kThreads,
                         0, stream, w, out, groups_per_row);
    } else if constexpr (!kIsBlockType<DT>) {
      launch_after_prior(dequantize_single<DT, T>, blocks_for(w.ne[0] * w.ne[1]), kThreads, 0,
                         stream, w, out);
    }
  });
}

}  // namespace

cudaError_t launch_dequantize_weight(const hearth_tensor& w, void* out, GemmElement type,
                                     cudaStream_t stream) {
  if (w.ne[0] == 0 || w.ne[1] == 0) return cudaSuccess;
  if (w.dtype ==
      HEARTH_DTYPE_NF4) {  // whole rows of 36-byte blocks, back to back (the plan checks)
    if (type == GemmElement::f32) return cudaErrorInvalidValue;
    return launch_nf4_dequantize(w.data, w.ne[0] / 64 * w.ne[1], out,
                                 type == GemmElement::bf16 ? Nf4OutType::BF16 : Nf4OutType::F16,
                                 stream);
  }
  if (w.dtype == HEARTH_DTYPE_CS256) {  // one blob, 16-byte aligned (the plan checks)
    if (type == GemmElement::f32) return cudaErrorInvalidValue;
    return launch_cs256_dequantize(
        w, out, type == GemmElement::bf16 ? Cs256DenseType::bf16 : Cs256DenseType::f16, stream);
  }
  if (type == GemmElement::bf16)
    dequantize_as(w, static_cast<__nv_bfloat16*>(out), stream);
  else if (type == GemmElement::f16)
    dequantize_as(w, static_cast<__half*>(out), stream);
  else
    return cudaErrorInvalidValue;  // F32 weights are read in place, never copied
  return cudaGetLastError();
}

cudaError_t launch_convert_activations(const hearth_tensor& x, void* out, GemmElement type,
                                       cudaStream_t stream) {
  const int64_t n_rows = x.ne[1] * x.ne[2] * x.ne[3];
  const int64_t n = x.ne[0] * n_rows;
  if (n == 0) return cudaSuccess;
  switch (type) {
    case GemmElement::f16:
      launch_after_prior(convert_rows<__half>, blocks_for(n), kThreads, 0, stream, x,
                         static_cast<__half*>(out), n_rows);
      break;
    case GemmElement::bf16:
      launch_after_prior(convert_rows<__nv_bfloat16>, blocks_for(n), kThreads, 0, stream, x,
                         static_cast<__nv_bfloat16*>(out), n_rows);
      break;
    case GemmElement::f32:
      launch_after_prior(convert_rows<float>, blocks_for(n), kThreads, 0, stream, x,
                         static_cast<float*>(out), n_rows);
      break;
  }
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

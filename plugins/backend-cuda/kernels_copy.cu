// COPY: dst = src element by element, converted between F32, F16 and BF16 with round to nearest
// even (the bits sdk/half.hpp gives on the host), over any strides. The engine stores each step's
// keys and values into an F16 cache this way. One thread per element.
#include "gpu_device_code.cuh"
#include "kernels.hpp"
#include "programmatic_launch.cuh"

namespace hearth::backend_gpu {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float load_value(const hearth_tensor& t, int64_t offset) {
  const auto* p = static_cast<const uint8_t*>(t.data) + offset;
  if (t.dtype == HEARTH_DTYPE_F16) return half_bits_to_float(*reinterpret_cast<const uint16_t*>(p));
  if (t.dtype == HEARTH_DTYPE_BF16)
    return bf16_bits_to_float(*reinterpret_cast<const uint16_t*>(p));
  return *reinterpret_cast<const float*>(p);
}

// sdk::fp32_to_bf16: NaN stays a (quiet) NaN, everything else rounds to nearest even.
__device__ __forceinline__ uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = __float_as_uint(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 64u);
  return static_cast<uint16_t>((x + (0x7FFFu + ((x >> 16) & 1u))) >> 16);
}

__device__ __forceinline__ void store_value(const hearth_tensor& t, int64_t offset, float v) {
  auto* p = static_cast<uint8_t*>(t.data) + offset;
  if (t.dtype == HEARTH_DTYPE_F16)
    *reinterpret_cast<uint16_t*>(p) = __half_as_ushort(__float2half_rn(v));
  else if (t.dtype == HEARTH_DTYPE_BF16)
    *reinterpret_cast<uint16_t*>(p) = float_to_bf16_bits(v);
  else
    *reinterpret_cast<float*>(p) = v;
}

__global__ void __launch_bounds__(kThreads) copy_kernel(hearth_tensor src, hearth_tensor dst) {
  wait_for_prior_kernels();
  const int64_t n0 = dst.ne[0], n1 = dst.ne[1], n2 = dst.ne[2];
  int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e >= n0 * n1 * n2 * dst.ne[3]) return;
  const int64_t i0 = e % n0;
  e /= n0;
  const int64_t i1 = e % n1;
  e /= n1;
  const int64_t i2 = e % n2;
  const int64_t i3 = e / n2;
  const float v =
      load_value(src, i0 * src.nb[0] + i1 * src.nb[1] + i2 * src.nb[2] + i3 * src.nb[3]);
  store_value(dst, i0 * dst.nb[0] + i1 * dst.nb[1] + i2 * dst.nb[2] + i3 * dst.nb[3], v);
}

}  // namespace

cudaError_t launch_copy(const hearth_op& op, cudaStream_t stream) {
  const hearth_tensor& dst = op.dst;
  const int64_t n = dst.ne[0] * dst.ne[1] * dst.ne[2] * dst.ne[3];
  if (n == 0) return cudaSuccess;
  launch_after_prior(copy_kernel, static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0,
                     stream, op.src[0], dst);
  return cudaGetLastError();
}

}  // namespace hearth::backend_gpu

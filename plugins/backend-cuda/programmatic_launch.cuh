// Programmatic dependent launch (PDL, Hopper). A kernel launched by launch_after_prior() may
// become resident while the previous kernel on the stream still runs, so its launch and block
// start-up overlap that kernel's tail instead of adding to the gap between the small kernels of
// a decode step. Each such kernel calls wait_for_prior_kernels() before it touches global memory
// (or, where it reads weights early, allow_next_launch() and await_prior_kernel() around those
// reads: nf4_dequantize.cu, cs256_matmul.cu's warp-row kernels; nf4_gemv_tma.cu launches itself
// and issues griddepcontrol directly).
// Compiled in only where the plugin carries sm_90 code (HEARTH_CUDA_PDL, set by CMake: a kernel
// JIT-compiled from older PTX would lack the wait) and used only on sm_90 devices; the HIP build
// launches plainly.
#pragma once

#include <cstdint>
#include <utility>

#include "gpu_device_code.cuh"

namespace hearth::backend_gpu {

// Waits until the kernels before this one on the stream have finished and their writes are
// visible.
__device__ __forceinline__ void await_prior_kernel() {
#if defined(HEARTH_CUDA_PDL) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next launch on the stream start before this kernel ends (it still waits for it).
__device__ __forceinline__ void allow_next_launch() {
#if defined(HEARTH_CUDA_PDL) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Asks L2 to fetch the 16-byte aligned part of [begin, end): the sm_90 bulk prefetch, a hint
// that changes no result (elsewhere nothing). Kernels call it on weights before
// await_prior_kernel(): no kernel writes weights, so their bytes can come from HBM while the
// prior kernel finishes instead of after it.
__device__ __forceinline__ void prefetch_to_l2(const void* begin, const void* end) {
#if defined(HEARTH_CUDA_PDL) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const uint64_t first = (reinterpret_cast<uint64_t>(begin) + 15) / 16 * 16;
  const uint64_t last = reinterpret_cast<uint64_t>(end) / 16 * 16;
  if (last <= first || last - first > 0xfffffff0ull) return;
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(first),
               "r"(static_cast<uint32_t>(last - first))
               : "memory");
#else
  static_cast<void>(begin);
  static_cast<void>(end);
#endif
}

// Both, in that order: what every kernel without early weight reads calls first.
__device__ __forceinline__ void wait_for_prior_kernels() {
  await_prior_kernel();
  allow_next_launch();
}

// Whether launches on the current device may be programmatic dependents (see above).
inline bool programmatic_launch_available() {
#if defined(HEARTH_CUDA_PDL) && !defined(HEARTH_GPU_HIP)
  int device = 0;
  int major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return false;
  }
  return major == 9;
#else
  return false;
#endif
}

// kernel<<<grid, block, shared, stream>>>(args...), as a programmatic dependent of the previous
// kernel where available. Launch errors are left for cudaGetLastError(), as with <<<>>>.
template <class... Params, class... Args>
void launch_after_prior(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared,
                        cudaStream_t stream, Args&&... args) {
#if defined(HEARTH_CUDA_PDL) && !defined(HEARTH_GPU_HIP)
  if (programmatic_launch_available()) {
    cudaLaunchAttribute attribute{};
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = shared;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    static_cast<void>(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
    return;
  }
#endif
  kernel<<<grid, block, shared, stream>>>(std::forward<Args>(args)...);
}

}  // namespace hearth::backend_gpu

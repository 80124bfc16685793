// The one source tree builds two plugins: "cuda" (nvcc) and "hip" (hipcc, HEARTH_GPU_HIP). Messages
// and device names use the name of the plugin they are built into.
#pragma once

namespace hearth::backend_gpu {

#if defined(HEARTH_GPU_HIP)
inline constexpr const char* kBackendName = "hip";
#else
inline constexpr const char* kBackendName = "cuda";
#endif

}  // namespace hearth::backend_gpu

// The GPU runtime API for host code, under its CUDA names. In the HIP build (HEARTH_GPU_HIP) the
// vendor header of plugins/backend-hip maps every CUDA name used here to its HIP twin, so one
// source tree serves both plugins (as llama.cpp's ggml-hip reuses ggml-cuda).
#pragma once

#if defined(HEARTH_GPU_HIP)
#include "vendor_hip.hpp"
#else
#include <cuda_runtime_api.h>
#endif

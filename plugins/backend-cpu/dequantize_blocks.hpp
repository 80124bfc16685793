// Expands a row of quantized blocks to F32, bit-identical to ggml's dequantize_row_*.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_cpu {

// n elements (a multiple of the block size) of a quantized dtype; false for other dtypes.
bool dequantize_blocks(hearth_dtype dtype, const void* row, float* out, int64_t n);

}  // namespace hearth::backend_cpu

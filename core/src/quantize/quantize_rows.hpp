// Rows of F32 values quantized to a format plugin's block type, spread over the cores: what
// `hearth quantize` writes and what a device's weights = "nf4" converts at load.
#pragma once

#include <hearth/weight_format.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hearth::detail {

// n_rows rows of n_per_row values (a multiple of the type's block) as target's blocks. The bytes
// do not depend on the thread count: threads take disjoint row ranges.
std::vector<std::byte> quantize_rows(const FormatPlugin& format, hearth_dtype target,
                                     const float* values, int64_t n_rows, int64_t n_per_row);

}  // namespace hearth::detail

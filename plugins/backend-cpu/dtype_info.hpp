// What the CPU backend knows about element types: names for messages, and the storage layout
// of the types it computes with.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <string>

namespace hearth::backend_cpu {

// "F32", "Q4_K", ... or "dtype 1025" for ids without a name.
std::string dtype_name(hearth_dtype dtype);

// Elements per block and bytes per block; block_elems == 0 for types this backend cannot read.
struct DtypeLayout {
  int64_t block_elems;
  int64_t block_bytes;
};
DtypeLayout dtype_layout(hearth_dtype dtype);

// True for the weight types MATMUL and EMBEDDING read: F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool is_readable_weight(hearth_dtype dtype);

}  // namespace hearth::backend_cpu

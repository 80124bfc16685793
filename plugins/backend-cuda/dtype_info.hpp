// What the GPU backend knows about element types: names for messages, and the storage layout
// of the types it computes with.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>
#include <string>

namespace hearth::backend_gpu {

// "F32", "Q4_K", ... or "dtype 1025" for ids without a name.
std::string dtype_name(hearth_dtype dtype);

// Elements per block and bytes per block; block_elems == 0 for types this backend cannot read.
struct DtypeLayout {
  int64_t block_elems;
  int64_t block_bytes;
};
DtypeLayout dtype_layout(hearth_dtype dtype);

}  // namespace hearth::backend_gpu

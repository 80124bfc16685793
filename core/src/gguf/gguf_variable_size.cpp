// Tensor types whose byte size depends on their data, not on their shape: Hearth's CS256
// sparse-tile format (sdk abi.h, hearth_cs256_header). Such a tensor's data starts with a
// header that records its total size; the reader takes the size from there after checking
// that the header is whole, names the tensor's shape and agrees with its own layout
// arithmetic. Every deeper invariant is the format plugin's validate() (run at model load).
#include <hearth/sdk/abi.h>

#include <cstring>

#include "gguf_internal.hpp"

namespace hearth::gguf_detail {

bool is_variable_size_type(uint32_t id) { return id == HEARTH_DTYPE_CS256; }

std::string variable_size_name(uint32_t id) {
  return id == HEARTH_DTYPE_CS256 ? "CS256" : "type " + std::to_string(id);
}

VariableSize variable_tensor_size(uint32_t id, const std::vector<int64_t>& ne,
                                  std::span<const std::byte> available) {
  if (id != HEARTH_DTYPE_CS256) return {0, "type " + std::to_string(id) + " has no size rule"};
  if (ne.size() != 2)
    return {0, "a CS256 tensor must be 2-D [n_in, n_out], it has " + std::to_string(ne.size()) +
                   " dimensions"};
  hearth_cs256_header h{};
  if (available.size() < sizeof h)
    return {0, "the CS256 header (" + std::to_string(sizeof h) +
                   " bytes) runs past the end of "
                   "the file (" +
                   std::to_string(available.size()) + " bytes left)"};
  std::memcpy(&h, available.data(), sizeof h);
  if (h.magic != HEARTH_CS256_MAGIC || h.version != HEARTH_CS256_VERSION)
    return {0, "the data does not start with a CS256 version-1 header (magic " +
                   std::to_string(h.magic) + ", version " + std::to_string(h.version) + ")"};
  if (static_cast<uint64_t>(ne[0]) != h.n || static_cast<uint64_t>(ne[1]) != h.m)
    return {0, "the CS256 header says " + std::to_string(h.m) + " rows of " + std::to_string(h.n) +
                   " columns but the tensor's shape is [" + std::to_string(ne[0]) + ", " +
                   std::to_string(ne[1]) + "]"};
  hearth_cs256_layout layout{};
  if (!hearth_cs256_compute_layout(&h, &layout) || layout.total_bytes != h.total_bytes)
    return {0, "the CS256 header's sizes are inconsistent (nnz " + std::to_string(h.nnz) +
                   ", value dtype " + std::to_string(h.value_dtype) + ", total_bytes " +
                   std::to_string(h.total_bytes) + ")"};
  if (h.total_bytes > available.size())
    return {0, "the CS256 data (" + std::to_string(h.total_bytes) +
                   " bytes) runs past the end "
                   "of the file (" +
                   std::to_string(available.size()) + " bytes left)"};
  return {h.total_bytes, {}};
}

}  // namespace hearth::gguf_detail

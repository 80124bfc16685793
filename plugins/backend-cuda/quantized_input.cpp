#include "quantized_input.hpp"

#include <cstdint>

#include "dtype_info.hpp"

namespace hearth::backend_gpu {
namespace {

// [first, last) bytes a view can touch: conservative for block types (a whole block at the end).
struct ByteRange {
  uintptr_t first;
  uintptr_t last;
};

ByteRange byte_range(const hearth_tensor& t) {
  const auto first = reinterpret_cast<uintptr_t>(t.data);
  uint64_t extent = static_cast<uint64_t>(dtype_layout(t.dtype).block_bytes);
  for (uint32_t d = 0; d < HEARTH_MAX_DIMS; ++d) {
    if (t.ne[d] <= 0) return {first, first};  // empty: touches nothing
    extent += static_cast<uint64_t>(t.ne[d] - 1) * static_cast<uint64_t>(t.nb[d]);
  }
  return {first, first + extent};
}

bool same_view(const hearth_tensor& a, const hearth_tensor& b) {
  if (a.data != b.data || a.dtype != b.dtype) return false;
  for (uint32_t d = 0; d < HEARTH_MAX_DIMS; ++d)
    if (a.ne[d] != b.ne[d] || a.nb[d] != b.nb[d]) return false;
  return true;
}

}  // namespace

bool QuantizedInput::holds(const hearth_tensor& source, const void* scratch,
                           ActivationRounding rounding) const {
  return valid_ && scratch == scratch_ && rounding == rounding_ && same_view(source, source_);
}

void QuantizedInput::remember(const hearth_tensor& source, const void* scratch,
                              ActivationRounding rounding) {
  valid_ = true;
  source_ = source;
  scratch_ = scratch;
  rounding_ = rounding;
}

void QuantizedInput::forget_if_overlapping(const hearth_tensor& written) {
  if (!valid_) return;
  const ByteRange w = byte_range(written);
  const ByteRange s = byte_range(source_);
  if (w.first < s.last && s.first < w.last) valid_ = false;
}

}  // namespace hearth::backend_gpu

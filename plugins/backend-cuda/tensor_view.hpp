// Addressing rows of a hearth_tensor. Rows are contiguous (nb[0] is the element size, checked
// by op_validation); dims 1..3 may have any stride, so views into larger buffers work.
#pragma once

#include <hearth/sdk/abi.h>

#include <cstdint>

namespace hearth::backend_gpu {

inline int64_t row_count(const hearth_tensor& t) { return t.ne[1] * t.ne[2] * t.ne[3]; }

inline int64_t element_count(const hearth_tensor& t) { return t.ne[0] * row_count(t); }

// Byte offset of row (i1, i2, i3).
inline int64_t row_offset(const hearth_tensor& t, int64_t i1, int64_t i2, int64_t i3) {
  return i1 * t.nb[1] + i2 * t.nb[2] + i3 * t.nb[3];
}

// Byte offset of flat row r, counting rows in (i1 fastest, then i2, then i3) order.
inline int64_t flat_row_offset(const hearth_tensor& t, int64_t r) {
  const int64_t i1 = r % t.ne[1];
  const int64_t i2 = (r / t.ne[1]) % t.ne[2];
  const int64_t i3 = r / (t.ne[1] * t.ne[2]);
  return row_offset(t, i1, i2, i3);
}

template <class T>
T* row_at(const hearth_tensor& t, int64_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(t.data) + offset);
}

template <class T>
T* flat_row(const hearth_tensor& t, int64_t r) {
  return row_at<T>(t, flat_row_offset(t, r));
}

template <class T>
T* row3(const hearth_tensor& t, int64_t i1, int64_t i2, int64_t i3 = 0) {
  return row_at<T>(t, row_offset(t, i1, i2, i3));
}

}  // namespace hearth::backend_gpu

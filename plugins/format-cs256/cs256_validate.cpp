// The validator (every invariant of README.md "Invariants") and the dense reference expansion.
#include <hearth/sdk/half.hpp>

#include <cmath>
#include <string>

#include "cs256_blob.hpp"
#include "cs256_codec.hpp"

namespace hearth::format_cs256 {

using sdk::PluginError;

namespace {

[[noreturn]] void invalid(const std::string& what) {
  throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                    "format cs256: invalid blob: " + what +
                        " (the file is corrupt or was not written by Hearth's converter; "
                        "re-convert it with `hearth convert --to cs256`)");
}

std::string n(uint64_t v) { return std::to_string(v); }

void check_header(const BlobView& b, uint64_t bytes, int64_t rows, int64_t cols) {
  const hearth_cs256_header& h = b.header;
  if (h.m != static_cast<uint64_t>(rows) || h.n != static_cast<uint64_t>(cols))
    invalid("the header says " + n(h.m) + " rows of " + n(h.n) + " columns, the tensor is " +
            std::to_string(rows) + " x " + std::to_string(cols));
  if (h.vec != 4 && h.vec != 8 && h.vec != 16) invalid("vec " + n(h.vec) + " is not 4, 8 or 16");
  if ((h.flags & ~HEARTH_CS256_FLAG_WIDE) != 0) invalid("unknown flags " + n(h.flags));
  if (h.blk_offset != static_cast<uint64_t>(block_offset(cols)))
    invalid("blk_offset " + n(h.blk_offset) + " should be " +
            n(static_cast<uint64_t>(block_offset(cols))));
  if (h.reserved[0] != 0 || h.reserved[1] != 0) invalid("reserved header fields are not zero");
  if (h.total_bytes != b.layout.total_bytes)
    invalid("total_bytes " + n(h.total_bytes) + " should be " + n(b.layout.total_bytes));
  if (h.total_bytes > bytes)
    invalid("the blob needs " + n(h.total_bytes) + " bytes but the tensor has " + n(bytes));
}

void check_row(const BlobView& b, int64_t i, int64_t cols) {
  const hearth_cs256_header& h = b.header;
  const int64_t n_tiles = blocks_per_row(cols);
  const uint64_t cap = b.wide() ? kTile : kMaxNarrowCount;
  uint64_t at = b.row_pointer(i);
  const uint64_t end = b.row_pointer(i + 1);
  if (end < at || end > h.nnz)
    invalid("RowPointers[" + std::to_string(i + 1) + "] = " + n(end) + " is below RowPointers[" +
            std::to_string(i) + "] = " + n(at) + " or past nnz " + n(h.nnz));
  for (int64_t t = 0; t < static_cast<int64_t>(h.blk_offset); ++t) {
    const uint32_t count = b.increment(i, t);
    const std::string tile = "row " + std::to_string(i) + ", tile " + std::to_string(t);
    if (t >= n_tiles) {
      if (count != 0) invalid(tile + " is padding but its count is " + n(count));
      continue;
    }
    if (count % h.vec != 0)
      invalid(tile + " holds " + n(count) + " entries, not a multiple of vec " + n(h.vec));
    if (count > cap) invalid(tile + " holds " + n(count) + " entries (at most " + n(cap) + ")");
    if (at + count > end)
      invalid(tile + " runs past its row's end (RowPointers[" + std::to_string(i + 1) +
              "] = " + n(end) + ")");
    const auto width = static_cast<uint64_t>(tile_width(cols, t));
    int previous = -1;
    for (uint64_t k = at; k < at + count; ++k) {
      const int c = b.index(k);
      if (static_cast<uint64_t>(c) >= width)
        invalid(tile + ": index " + std::to_string(c) + " at entry " + n(k) +
                " is past the tile's " + n(width) + " columns");
      if (c < previous) invalid(tile + ": indices not ascending at entry " + n(k));
      bool zero = false;
      if (h.value_dtype != HEARTH_DTYPE_I8) {
        const uint16_t v = b.value16(k);
        const float f =
            h.value_dtype == HEARTH_DTYPE_F16 ? sdk::fp16_to_fp32(v) : sdk::bf16_to_fp32(v);
        if (!std::isfinite(f)) invalid(tile + ": value at entry " + n(k) + " is not finite");
        zero = f == 0.0f;
      } else {
        zero = b.value8(k) == 0;
      }
      // Only zero-valued padding may repeat a column: it adds nothing to any product.
      if (c == previous && !zero)
        invalid(tile + ": entry " + n(k) + " repeats column " + std::to_string(c) +
                " with a non-zero value");
      previous = c;
    }
    at += count;
  }
  if (at != end)
    invalid("row " + std::to_string(i) + ": its tile counts sum to " + n(at - b.row_pointer(i)) +
            " but RowPointers give " + n(end - b.row_pointer(i)));
  if (h.value_dtype == HEARTH_DTYPE_I8 && !(std::isfinite(b.scale(i)) && b.scale(i) >= 0))
    invalid("row " + std::to_string(i) + " has scale " + std::to_string(b.scale(i)));
}

}  // namespace

void validate(const void* data, uint64_t bytes, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) invalid("negative shape");
  if (!data || bytes < sizeof(hearth_cs256_header))
    invalid("it has " + n(bytes) + " bytes, less than the " + n(sizeof(hearth_cs256_header)) +
            "-byte header");
  BlobView b;
  if (!read_blob(data, b)) invalid("the header's magic, version, value dtype or nnz is wrong");
  check_header(b, bytes, rows, cols);
  if (b.row_pointer(0) != 0) invalid("RowPointers[0] = " + n(b.row_pointer(0)) + ", not 0");
  if (b.row_pointer(rows) != b.header.nnz)
    invalid("RowPointers[m] = " + n(b.row_pointer(rows)) + " but nnz is " + n(b.header.nnz));
  for (int64_t i = 0; i < rows; ++i) check_row(b, i, cols);
}

void dequantize(const void* data, float* dst, int64_t n_elems) {
  BlobView b;
  if (!read_blob(data, b)) invalid("the header's magic, version, value dtype or nnz is wrong");
  const auto rows = static_cast<int64_t>(b.header.m);
  const auto cols = static_cast<int64_t>(b.header.n);
  if (n_elems != rows * cols)
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format cs256: asked for " + std::to_string(n_elems) + " elements of a " +
                          std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
  std::fill(dst, dst + n_elems, 0.0f);
  const int64_t n_tiles = blocks_per_row(cols);
  for (int64_t i = 0; i < rows; ++i) {
    uint64_t k = b.row_pointer(i);
    const float scale = b.header.value_dtype == HEARTH_DTYPE_I8 ? b.scale(i) : 1.0f;
    for (int64_t t = 0; t < n_tiles; ++t) {
      const uint32_t count = b.increment(i, t);
      // += so that zero-valued padding repeating a column leaves its value alone.
      float* out = dst + i * cols + t * kTile;
      for (uint64_t e = k; e < k + count; ++e) {
        switch (b.header.value_dtype) {
          case HEARTH_DTYPE_F16:
            out[b.index(e)] += sdk::fp16_to_fp32(b.value16(e));
            break;
          case HEARTH_DTYPE_BF16:
            out[b.index(e)] += sdk::bf16_to_fp32(b.value16(e));
            break;
          default:
            out[b.index(e)] += static_cast<float>(b.value8(e)) * scale;
        }
      }
      k += count;
    }
  }
}

}  // namespace hearth::format_cs256

// Dense (pruned or to-be-pruned) matrix -> CS256 blob (cs256.md §5 with our one-tensor layout).
#include <hearth/sdk/half.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cs256_blob.hpp"
#include "cs256_codec.hpp"

namespace hearth::format_cs256 {

using sdk::PluginError;

namespace {

// Columns of tile (i, t) to store: the kept ones, plus zero-valued padding entries until the
// count is a multiple of vec: the lowest unused columns first, then (a nearly dense partial
// tile has too few) repeats of the tile's last column at the end, which keeps indices ascending.
void tile_columns(const uint8_t* kept_row, int64_t width, int vec, std::vector<uint8_t>& out,
                  std::vector<uint8_t>& is_padding) {
  out.clear();
  is_padding.clear();
  int64_t count = 0;
  for (int64_t c = 0; c < width; ++c) count += kept_row[c];
  int64_t pad = (vec - count % vec) % vec;
  for (int64_t c = 0; c < width; ++c) {
    if (kept_row[c] || pad > 0) {
      out.push_back(static_cast<uint8_t>(c));
      is_padding.push_back(kept_row[c] ? 0 : 1);
      if (!kept_row[c]) --pad;
    }
  }
  for (; pad > 0; --pad) {
    out.push_back(static_cast<uint8_t>(width - 1));
    is_padding.push_back(1);
  }
}

void put(std::vector<std::byte>& blob, uint64_t offset, const void* src, size_t n) {
  std::memcpy(blob.data() + offset, src, n);
}

}  // namespace

std::vector<std::byte> encode(const float* w, int64_t rows, int64_t cols, const float* importance,
                              const EncodeOptions& options) {
  if (rows < 0 || cols < 0 || rows > std::numeric_limits<uint32_t>::max() ||
      cols > std::numeric_limits<uint32_t>::max())
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                      "format cs256: a " + std::to_string(rows) + " x " + std::to_string(cols) +
                          " matrix does not fit CS256's 32-bit dimensions");
  const size_t n_elems = static_cast<size_t>(rows * cols);
  for (size_t k = 0; k < n_elems; ++k)
    if (!std::isfinite(w[k]))
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format cs256: weight " + std::to_string(k) + " (row " +
                            std::to_string(static_cast<int64_t>(k) / std::max<int64_t>(cols, 1)) +
                            ") is not finite; fix the model before converting it");
  std::vector<uint8_t> kept;
  if (options.sparsity) {
    kept = select_kept(w, rows, cols, importance, *options.sparsity, options.vec);
  } else {
    kept.resize(n_elems);
    for (size_t k = 0; k < n_elems; ++k) kept[k] = w[k] != 0.0f;  // -0.0 counts as zero
  }

  // Pass 1: every tile's stored columns.
  const int64_t n_tiles = blocks_per_row(cols);
  const int64_t stride = block_offset(cols);
  std::vector<uint32_t> counts(static_cast<size_t>(rows * stride), 0);
  std::vector<uint8_t> columns, padding, all_columns;
  std::vector<float> all_values;
  std::vector<uint32_t> row_pointers(static_cast<size_t>(rows) + 1, 0);
  std::vector<float> scales(static_cast<size_t>(rows), 0.0f);
  bool wide = false;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t t = 0; t < n_tiles; ++t) {
      const int64_t c0 = t * kTile;
      tile_columns(kept.data() + i * cols + c0, tile_width(cols, t), options.vec, columns, padding);
      counts[static_cast<size_t>(i * stride + t)] = static_cast<uint32_t>(columns.size());
      wide = wide || static_cast<int64_t>(columns.size()) > kMaxNarrowCount;
      for (size_t e = 0; e < columns.size(); ++e) {
        all_columns.push_back(columns[e]);
        all_values.push_back(padding[e] ? 0.0f : w[i * cols + c0 + columns[e]]);
      }
    }
    if (all_values.size() > std::numeric_limits<uint32_t>::max())
      throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                        "format cs256: more than 2^32 - 1 stored entries; split the matrix");
    row_pointers[static_cast<size_t>(i) + 1] = static_cast<uint32_t>(all_values.size());
  }

  hearth_cs256_header h{};
  h.magic = HEARTH_CS256_MAGIC;
  h.version = HEARTH_CS256_VERSION;
  h.m = static_cast<uint32_t>(rows);
  h.n = static_cast<uint32_t>(cols);
  h.vec = static_cast<uint32_t>(options.vec);
  h.value_dtype = options.values;
  h.flags = wide ? HEARTH_CS256_FLAG_WIDE : 0u;
  h.blk_offset = static_cast<uint32_t>(stride);
  h.nnz = all_values.size();
  hearth_cs256_layout layout{};
  if (!hearth_cs256_compute_layout(&h, &layout))
    throw PluginError(HEARTH_ERR_INVALID_ARGUMENT, "format cs256: the matrix is too large");
  h.total_bytes = layout.total_bytes;

  std::vector<std::byte> blob(static_cast<size_t>(layout.total_bytes), std::byte{0});
  put(blob, 0, &h, sizeof h);
  put(blob, layout.row_pointers, row_pointers.data(), row_pointers.size() * 4);
  for (size_t k = 0; k < counts.size(); ++k) {
    if (wide) {
      const auto c = static_cast<uint16_t>(counts[k]);
      put(blob, layout.increments + 2 * k, &c, 2);
    } else {
      blob[layout.increments + k] = static_cast<std::byte>(counts[k]);
    }
  }
  if (!all_columns.empty()) put(blob, layout.indices, all_columns.data(), all_columns.size());
  for (int64_t i = 0; i < rows; ++i) {
    const uint32_t begin = row_pointers[static_cast<size_t>(i)];
    const uint32_t end = row_pointers[static_cast<size_t>(i) + 1];
    if (options.values == HEARTH_DTYPE_I8) {
      // Symmetric per-row scale: the row's largest kept magnitude maps to 127.
      float max_abs = 0.0f;
      for (uint32_t k = begin; k < end; ++k) max_abs = std::max(max_abs, std::fabs(all_values[k]));
      const float scale = max_abs / 127.0f;
      scales[static_cast<size_t>(i)] = scale;
      for (uint32_t k = begin; k < end; ++k) {
        const float q = scale > 0 ? std::nearbyint(all_values[k] / scale) : 0.0f;
        blob[layout.values + k] =
            static_cast<std::byte>(static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f)));
      }
    } else {
      for (uint32_t k = begin; k < end; ++k) {
        const uint16_t bits = options.values == HEARTH_DTYPE_F16 ? sdk::fp32_to_fp16(all_values[k])
                                                                 : sdk::fp32_to_bf16(all_values[k]);
        if (options.values == HEARTH_DTYPE_F16 && !std::isfinite(sdk::fp16_to_fp32(bits)))
          throw PluginError(HEARTH_ERR_INVALID_ARGUMENT,
                            "format cs256: row " + std::to_string(i) + " has a weight of " +
                                std::to_string(all_values[k]) +
                                ", beyond F16's range; use --values bf16");
        put(blob, layout.values + 2 * static_cast<uint64_t>(k), &bits, 2);
      }
    }
  }
  if (options.values == HEARTH_DTYPE_I8) put(blob, layout.scales, scales.data(), scales.size() * 4);
  return blob;
}

}  // namespace hearth::format_cs256

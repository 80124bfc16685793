// The CS256 blob seen from C++: where each array of a blob lives, plus the small facts about tiles
// that the encoder, the validator and the dequantizer share (layout: README.md, sdk abi.h).
#pragma once

#include <hearth/sdk/abi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hearth::format_cs256 {

inline constexpr int64_t kTile = HEARTH_CS256_TILE;
// uint8 increments hold at most 255; with counts in multiples of 8 the largest is 248.
inline constexpr int64_t kMaxNarrowCount = 248;

inline int64_t blocks_per_row(int64_t n) { return (n + kTile - 1) / kTile; }
inline int64_t block_offset(int64_t n) { return (blocks_per_row(n) + 3) / 4 * 4; }
// Columns tile t of a row of n columns covers (the last tile may be partial).
inline int64_t tile_width(int64_t n, int64_t t) {
  return n - t * kTile < kTile ? n - t * kTile : kTile;
}

// Typed pointers into a blob whose header has been read (and, for anything but the writer,
// validated). Unaligned-safe reads: the blob may sit at any offset of a mapped file.
struct BlobView {
  hearth_cs256_header header{};
  hearth_cs256_layout layout{};
  const unsigned char* base = nullptr;

  bool wide() const { return (header.flags & HEARTH_CS256_FLAG_WIDE) != 0; }
  uint32_t row_pointer(int64_t i) const { return load<uint32_t>(layout.row_pointers + 4 * i); }
  uint32_t increment(int64_t i, int64_t t) const {
    const int64_t k = i * header.blk_offset + t;
    return wide() ? load<uint16_t>(layout.increments + 2 * k)
                  : base[layout.increments + static_cast<uint64_t>(k)];
  }
  uint8_t index(uint64_t k) const { return base[layout.indices + k]; }
  uint16_t value16(uint64_t k) const { return load<uint16_t>(layout.values + 2 * k); }
  int8_t value8(uint64_t k) const { return static_cast<int8_t>(base[layout.values + k]); }
  float scale(int64_t i) const { return load<float>(layout.scales + 4 * i); }

  template <class T>
  T load(uint64_t offset) const {
    T v;
    std::memcpy(&v, base + offset, sizeof v);
    return v;
  }
};

// Reads the header; false when it is not a CS256 v1 header with a computable layout.
inline bool read_blob(const void* data, BlobView& out) {
  out.base = static_cast<const unsigned char*>(data);
  std::memcpy(&out.header, data, sizeof out.header);
  return out.header.magic == HEARTH_CS256_MAGIC && out.header.version == HEARTH_CS256_VERSION &&
         hearth_cs256_compute_layout(&out.header, &out.layout) != 0;
}

}  // namespace hearth::format_cs256

#include "byte_cursor.hpp"

#include <hearth/gguf.hpp>

namespace hearth::gguf_detail {

void ByteCursor::fail(uint64_t offset, std::string_view problem, std::string_view advice) const {
  std::string message(file_name_);
  message += ": ";
  message += problem;
  message += " (at byte " + std::to_string(offset) + ", reading " + context_ + "); ";
  message += advice;
  throw GgufError(message);
}

const std::byte* ByteCursor::take(uint64_t n, std::string_view what, std::string_view what_suffix) {
  if (n > remaining()) {
    throw GgufError(std::string(file_name_) + ": file is truncated at byte " +
                    std::to_string(size()) + " while reading " + context_ + " (" +
                    std::string(what) + std::string(what_suffix) + " needs " + std::to_string(n) +
                    " bytes at byte " + std::to_string(position_) +
                    "); re-download or re-convert it");
  }
  const std::byte* start = bytes_.data() + position_;
  position_ += n;
  return start;
}

uint64_t ByteCursor::little_endian(std::size_t n, std::string_view what,
                                   std::string_view what_suffix) {
  const std::byte* p = take(n, what, what_suffix);
  uint64_t value = 0;
  for (std::size_t i = 0; i < n; ++i) value |= std::to_integer<uint64_t>(p[i]) << (8 * i);
  return value;
}

uint8_t ByteCursor::u8(std::string_view what) {
  return static_cast<uint8_t>(little_endian(1, what));
}
uint16_t ByteCursor::u16(std::string_view what) {
  return static_cast<uint16_t>(little_endian(2, what));
}
uint32_t ByteCursor::u32(std::string_view what) {
  return static_cast<uint32_t>(little_endian(4, what));
}
uint64_t ByteCursor::u64(std::string_view what) { return little_endian(8, what); }

std::string ByteCursor::string(std::string_view what) {
  const uint64_t length_offset = position_;
  const uint64_t length = little_endian(8, what, " length");
  if (length > remaining()) {
    fail(length_offset,
         std::string(what) + " length " + std::to_string(length) +
             " runs past the end of the file: the file is truncated at byte " +
             std::to_string(size()) + " or the length is corrupt",
         "re-download or re-convert it");
  }
  const auto* p = reinterpret_cast<const char*>(take(length, what));
  return std::string(p, static_cast<std::size_t>(length));
}

}  // namespace hearth::gguf_detail

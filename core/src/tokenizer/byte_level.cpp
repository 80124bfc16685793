#include "tokenizer/byte_level.hpp"

#include <array>

#include "tokenizer/utf8.hpp"

namespace hearth::tokenizer_detail {

namespace {

bool maps_to_itself(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<int, 512> code_point_to_byte{};  // -1: no byte; every image lies below U+0144

  ByteLevelTables() {
    code_point_to_byte.fill(-1);
    unsigned next_shifted = 256;
    for (unsigned b = 0; b < 256; ++b) {
      const unsigned cp = maps_to_itself(b) ? b : next_shifted++;
      append_utf8(byte_to_utf8[b], cp);
      code_point_to_byte[cp] = static_cast<int>(b);
    }
  }
};

const ByteLevelTables& tables() {
  static const ByteLevelTables t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(unsigned char byte) { return tables().byte_to_utf8[byte]; }

std::string byte_level_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 2);
  for (char c : text) out += byte_to_unicode(static_cast<unsigned char>(c));
  return out;
}

std::optional<unsigned char> unicode_to_byte(char32_t cp) {
  if (cp >= tables().code_point_to_byte.size()) return std::nullopt;
  const int b = tables().code_point_to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<unsigned char>(b);
}

}  // namespace hearth::tokenizer_detail

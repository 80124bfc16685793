#include "tokenizer/utf8.hpp"

#include <hearth/error.hpp>

#include <cstdio>

namespace hearth::tokenizer_detail {

namespace {

uint8_t byte_at(std::string_view text, size_t pos) { return static_cast<uint8_t>(text[pos]); }

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// The allowed range of the second byte for a lead byte (RFC 3629 table), which rules out
// overlongs, surrogates and code points above U+10FFFF; {0, 0} for an invalid lead byte.
struct SecondByteRange {
  uint8_t lo, hi;
  size_t length;
};

SecondByteRange second_byte_range(uint8_t lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return {0x80, 0xBF, 2};
  if (lead == 0xE0) return {0xA0, 0xBF, 3};
  if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return {0x80, 0xBF, 3};
  if (lead == 0xED) return {0x80, 0x9F, 3};
  if (lead == 0xF0) return {0x90, 0xBF, 4};
  if (lead >= 0xF1 && lead <= 0xF3) return {0x80, 0xBF, 4};
  if (lead == 0xF4) return {0x80, 0x8F, 4};
  return {0, 0, 0};
}

}  // namespace

size_t valid_utf8_sequence_length(std::string_view text, size_t pos) {
  const uint8_t lead = byte_at(text, pos);
  if (lead < 0x80) return 1;
  const SecondByteRange r = second_byte_range(lead);
  if (r.length == 0 || pos + r.length > text.size()) return 0;
  const uint8_t second = byte_at(text, pos + 1);
  if (second < r.lo || second > r.hi) return 0;
  for (size_t i = 2; i < r.length; ++i)
    if (!is_continuation(byte_at(text, pos + i))) return 0;
  return r.length;
}

bool is_incomplete_utf8_prefix(std::string_view text, size_t pos) {
  const uint8_t lead = byte_at(text, pos);
  const SecondByteRange r = second_byte_range(lead);
  if (r.length == 0 || pos + r.length <= text.size()) return false;
  for (size_t i = pos + 1; i < text.size(); ++i) {
    const uint8_t b = byte_at(text, i);
    if (i == pos + 1 ? (b < r.lo || b > r.hi) : !is_continuation(b)) return false;
  }
  return true;
}

void require_valid_utf8(std::string_view text, std::string_view what) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = valid_utf8_sequence_length(text, pos);
    if (n == 0) {
      char byte_hex[8];
      std::snprintf(byte_hex, sizeof byte_hex, "0x%02X", byte_at(text, pos));
      const bool truncated = is_incomplete_utf8_prefix(text, pos);
      throw Error(std::string(what) + " is not valid UTF-8: byte offset " + std::to_string(pos) +
                  " (byte " + byte_hex + ") " +
                  (truncated ? "starts a multi-byte character that the text cuts off"
                             : "cannot start or continue a UTF-8 character here") +
                  ". Convert the text to UTF-8 (e.g. iconv -f latin1 -t utf-8) before "
                  "tokenizing.");
    }
    pos += n;
  }
}

size_t utf8_lead_length(char lead) {
  static constexpr size_t kLengthByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                     1, 1, 1, 1, 2, 2, 3, 4};
  return kLengthByHighNibble[static_cast<uint8_t>(lead) >> 4];
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace hearth::tokenizer_detail

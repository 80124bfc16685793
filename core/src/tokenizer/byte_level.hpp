// GPT-2's bytes_to_unicode map: every byte becomes a printable code point (printable Latin-1
// bytes map to themselves, the other 68 to U+0100.. in byte order), so byte-level BPE tokens
// are plain UTF-8 strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hearth::tokenizer_detail {

// The UTF-8 of the code point standing for this byte.
const std::string& byte_to_unicode(unsigned char byte);
// Every byte of text replaced by its code point.
std::string byte_level_encode(std::string_view text);
// The byte a code point stands for, nullopt if it stands for none.
std::optional<unsigned char> unicode_to_byte(char32_t code_point);

}  // namespace hearth::tokenizer_detail

// UTF-8 helpers: strict validation (RFC 3629: no overlongs, surrogates or code points above
// U+10FFFF) and the length a lead byte announces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::tokenizer_detail {

// The length of the valid UTF-8 sequence starting at text[pos], or 0 if the bytes there are not
// a complete valid sequence.
size_t valid_utf8_sequence_length(std::string_view text, size_t pos);

// Throws hearth::Error naming the first invalid byte's offset (and its value) and what to do.
void require_valid_utf8(std::string_view text, std::string_view what);

// The sequence length a lead byte announces, llama.cpp's unicode_len_utf8 (1 for stray
// continuation bytes), used to split text into characters the way llama.cpp does.
size_t utf8_lead_length(char lead);

// Whether text[pos..] could still become a valid sequence if more bytes arrived.
bool is_incomplete_utf8_prefix(std::string_view text, size_t pos);

void append_utf8(std::string& out, uint32_t code_point);

}  // namespace hearth::tokenizer_detail

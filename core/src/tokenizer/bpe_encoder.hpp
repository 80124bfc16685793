// Byte-level BPE encoding of one pre-tokenized word as llama.cpp does it (llm_tokenizer_bpe):
// start from the word's characters (after the byte-to-unicode map), repeatedly merge the
// adjacent pair with the lowest merge rank (ties: leftmost), then emit each piece's token.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.hpp"

namespace hearth::tokenizer_detail {

// word is byte-level encoded (byte_level_encode).
void bpe_encode_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out);

}  // namespace hearth::tokenizer_detail

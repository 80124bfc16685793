// SentencePiece-style encoding as llama.cpp does it (llm_tokenizer_spm): start from single
// characters, repeatedly merge the adjacent pair whose concatenation is the token with the
// highest score (ties: leftmost), then emit each piece, or its bytes as <0xXX> tokens when the
// piece is not in the vocabulary.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.hpp"

namespace hearth::tokenizer_detail {

// text has its spaces already replaced by U+2581.
void spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

}  // namespace hearth::tokenizer_detail

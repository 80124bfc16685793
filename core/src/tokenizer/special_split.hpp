// Splitting special tokens out of the text before tokenizing (llama.cpp's
// tokenizer_st_partition): every occurrence of a special token's text becomes that token;
// longer tokens are matched first. Control and unknown tokens only with parse_special;
// user-defined tokens always.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.hpp"

namespace hearth::tokenizer_detail {

struct Fragment {
  int32_t token = -1;     // >= 0: a special token; -1: text
  std::string_view text;  // the text, when token < 0
};

std::vector<Fragment> split_special_tokens(const Vocab& vocab, std::string_view text,
                                           bool parse_special);

}  // namespace hearth::tokenizer_detail

#include "tokenizer/special_split.hpp"

namespace hearth::tokenizer_detail {

namespace {

// C's isspace in the "C" locale, which llama.cpp uses for lstrip/rstrip.
bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Splits one text fragment on every occurrence of `special`, appending to out.
void split_fragment(std::string_view text, int32_t special, std::string_view special_text,
                    uint32_t attr, std::vector<Fragment>& out) {
  while (!text.empty()) {
    const size_t match = text.find(special_text);
    if (match == std::string_view::npos) break;
    std::string_view left = text.substr(0, match);
    if (attr & kAttrLstrip)
      while (!left.empty() && is_ascii_space(left.back())) left.remove_suffix(1);
    if (!left.empty()) out.push_back({-1, left});
    out.push_back({special, {}});
    text.remove_prefix(match + special_text.size());
    if (attr & kAttrRstrip)
      while (!text.empty() && is_ascii_space(text.front())) text.remove_prefix(1);
  }
  if (!text.empty()) out.push_back({-1, text});
}

}  // namespace

std::vector<Fragment> split_special_tokens(const Vocab& vocab, std::string_view text,
                                           bool parse_special) {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, text});
  for (int32_t id : vocab.special_tokens) {
    const uint32_t attr = vocab.attr[id];
    if (!parse_special && (attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string& special_text = vocab.text[id];
    bool present = false;
    for (const Fragment& f : fragments)
      if (f.token < 0 && f.text.find(special_text) != std::string_view::npos) {
        present = true;
        break;
      }
    if (!present) continue;
    std::vector<Fragment> next;
    next.reserve(fragments.size() + 2);
    for (const Fragment& f : fragments) {
      if (f.token >= 0)
        next.push_back(f);
      else
        split_fragment(f.text, id, special_text, attr, next);
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace hearth::tokenizer_detail

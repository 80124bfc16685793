// StreamingDecoder: token pieces in, valid UTF-8 out.
#include <hearth/tokenizer.hpp>

#include "tokenizer/utf8.hpp"

namespace hearth {

using namespace tokenizer_detail;

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Moves every complete character of `pending` to the result, replacing invalid bytes; stops
// before a trailing incomplete character unless `final`.
std::string drain(std::string& pending, bool final) {
  std::string out;
  size_t pos = 0;
  while (pos < pending.size()) {
    const size_t n = valid_utf8_sequence_length(pending, pos);
    if (n > 0) {
      out.append(pending, pos, n);
      pos += n;
      continue;
    }
    if (is_incomplete_utf8_prefix(pending, pos)) {
      if (!final) break;  // wait for the rest of the character
      out += kReplacement;
      break;  // the whole incomplete tail is one maximal invalid subsequence
    }
    // A maximal invalid subsequence: the lead byte plus the continuation bytes that were still
    // acceptable for it.
    out += kReplacement;
    size_t len = 1;
    while (pos + len < pending.size() &&
           is_incomplete_utf8_prefix(std::string_view(pending).substr(0, pos + len + 1), pos))
      ++len;
    pos += len;
  }
  pending.erase(0, final ? pending.size() : pos);
  return out;
}

}  // namespace

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer), render_special_(render_special) {}

std::string StreamingDecoder::push(int32_t token) {
  pending_ += tokenizer_.token_piece(token, render_special_);
  return drain(pending_, false);
}

std::string StreamingDecoder::flush() { return drain(pending_, true); }

}  // namespace hearth

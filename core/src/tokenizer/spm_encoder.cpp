#include "tokenizer/spm_encoder.hpp"

#include <hearth/error.hpp>

#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/utf8.hpp"

namespace hearth::tokenizer_detail {

namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;  // into the text
  size_t size;    // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t size;
};

// Highest score first; among equal scores the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

  void run(std::vector<int32_t>& out) {
    for (size_t offset = 0; offset < text_.size();) {
      const size_t n = std::min(utf8_lead_length(text_[offset]), text_.size() - offset);
      const int index = static_cast<int>(symbols_.size());
      symbols_.push_back({index - 1, offset + n == text_.size() ? -1 : index + 1, offset, n});
      offset += n;
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) try_add_bigram(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[b.left];
      Symbol& right = symbols_[b.right];
      // Stale: one side was merged away since this pair was queued.
      if (left.size == 0 || right.size == 0 || left.size + right.size != b.size) continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = b.left;
      try_add_bigram(left.prev, b.left);
      try_add_bigram(b.left, left.next);
    }

    if (symbols_.empty()) return;
    for (int i = 0; i != -1; i = symbols_[i].next) emit(symbols_[i], out);
  }

 private:
  void try_add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const size_t size = symbols_[left].size + symbols_[right].size;
    const int32_t token = vocab_.find(text_.substr(symbols_[left].offset, size));
    if (token < 0) return;
    queue_.push({left, right, vocab_.score[token], size});
  }

  // A merged piece is always a token; a single character may not be, and then goes out as
  // byte tokens.
  void emit(const Symbol& s, std::vector<int32_t>& out) const {
    const std::string_view piece = text_.substr(s.offset, s.size);
    const int32_t token = vocab_.find(piece);
    if (token >= 0) {
      out.push_back(token);
      return;
    }
    for (char c : piece) out.push_back(byte_token(static_cast<unsigned char>(c)));
  }

  int32_t byte_token(unsigned char byte) const {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", byte);
    int32_t token = vocab_.find(hex);
    if (token < 0) token = vocab_.find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
    if (token < 0) token = vocab_.unk;
    if (token < 0)
      throw Error(vocab_.source + ": the text needs the byte " + std::string(hex) +
                  ", which the vocabulary has no token for (no byte token, no single-character "
                  "token, no unknown token); this vocabulary cannot encode the text.");
    return token;
  }

  const Vocab& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void spm_encode(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  SpmSession(vocab, text).run(out);
}

}  // namespace hearth::tokenizer_detail

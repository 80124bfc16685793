#include "tokenizer/bpe_encoder.hpp"

#include <algorithm>
#include <queue>
#include <string>

#include "tokenizer/utf8.hpp"

namespace hearth::tokenizer_detail {

namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t size;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t left_size;
  size_t right_size;
};

// Lowest rank first; among equal ranks the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

class BpeSession {
 public:
  BpeSession(const Vocab& vocab, std::string_view word) : vocab_(vocab), word_(word) {}

  void run(std::vector<int32_t>& out) {
    if (vocab_.ignore_merges && vocab_.find(word_) >= 0) {
      symbols_.push_back({-1, -1, 0, word_.size()});
    } else {
      for (size_t offset = 0; offset < word_.size();) {
        const size_t n = std::min(utf8_lead_length(word_[offset]), word_.size() - offset);
        const int index = static_cast<int>(symbols_.size());
        symbols_.push_back({index - 1, offset + n == word_.size() ? -1 : index + 1, offset, n});
        offset += n;
      }
    }
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) add_bigram(i - 1, i);

    while (!queue_.empty()) {
      const Bigram b = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[b.left];
      Symbol& right = symbols_[b.right];
      // Stale: a side was merged away or grew since this pair was queued. (Symbols only grow
      // and stay contiguous, so equal sizes mean equal text.)
      if (left.size == 0 || right.size == 0 || left.size != b.left_size ||
          right.size != b.right_size || left.next != b.right)
        continue;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = b.left;
      add_bigram(left.prev, b.left);
      add_bigram(b.left, left.next);
    }

    for (const Symbol& s : symbols_) {
      if (s.size == 0) continue;
      const std::string_view piece = word_.substr(s.offset, s.size);
      const int32_t token = vocab_.find(piece);
      if (token >= 0) {
        out.push_back(token);
        continue;
      }
      // llama.cpp's fallback for a piece that is not a token: each of its bytes that is itself
      // a token; others are dropped.
      for (char c : piece) {
        const int32_t byte_token = vocab_.find(std::string_view(&c, 1));
        if (byte_token >= 0) out.push_back(byte_token);
      }
    }
  }

 private:
  void add_bigram(int left, int right) {
    if (left == -1 || right == -1) return;
    const Symbol& l = symbols_[left];
    const Symbol& r = symbols_[right];
    key_.assign(word_.substr(l.offset, l.size));
    key_ += ' ';
    key_.append(word_.substr(r.offset, r.size));
    auto it = vocab_.merge_rank.find(key_);
    if (it == vocab_.merge_rank.end()) return;
    queue_.push({left, right, it->second, l.size, r.size});
  }

  const Vocab& vocab_;
  std::string_view word_;
  std::vector<Symbol> symbols_;
  std::string key_;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void bpe_encode_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out) {
  BpeSession(vocab, word).run(out);
}

}  // namespace hearth::tokenizer_detail

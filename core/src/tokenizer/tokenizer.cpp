// Tokenizer: the public API over the shared Vocab (encode, pieces, decode, special ids).
#include <hearth/tokenizer.hpp>

#include <climits>

#include "tokenizer/bpe_encoder.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/special_split.hpp"
#include "tokenizer/spm_encoder.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocab.hpp"

namespace hearth {

using namespace tokenizer_detail;

namespace {

std::string escape_spm_whitespace(std::string_view text, bool add_prefix) {
  std::string out;
  out.reserve(text.size() + 8);
  if (add_prefix) out += "\xE2\x96\x81";
  for (char c : text) {
    if (c == ' ')
      out += "\xE2\x96\x81";
    else
      out += c;
  }
  return out;
}

void encode_spm(const Vocab& vocab, const std::vector<Fragment>& fragments,
                std::vector<int32_t>& out) {
  // Like SentencePiece, text that starts the input or follows a special token gets the
  // leading space (add_space_prefix).
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    spm_encode(vocab, escape_spm_whitespace(f.text, vocab.add_space_prefix && after_special), out);
    after_special = false;
  }
}

void encode_bpe(const Vocab& vocab, const std::vector<Fragment>& fragments,
                std::vector<int32_t>& out) {
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      continue;
    }
    std::string text = normalize(f.text, vocab.normal_forms);
    if (vocab.prefix_space_per_fragment && !text.empty() && text.front() != ' ')
      text.insert(text.begin(), ' ');
    for (std::string_view word : vocab.pre_tokenizer->split(text))
      bpe_encode_word(vocab, byte_level_encode(word), out);
  }
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  if (text.size() > static_cast<size_t>(INT_MAX))
    throw Error("the text to tokenize is " + std::to_string(text.size()) +
                " bytes; the tokenizer takes at most 2 GiB at once (split the text).");
  require_valid_utf8(text, "the text to tokenize");
  std::vector<int32_t> out;
  if (add_bos && vocab_->bos >= 0) out.push_back(vocab_->bos);
  const std::vector<Fragment> fragments = split_special_tokens(*vocab_, text, parse_special);
  if (vocab_->kind == VocabKind::Spm)
    encode_spm(*vocab_, fragments, out);
  else
    encode_bpe(*vocab_, fragments, out);
  return out;
}

namespace {
void check_id(const Vocab& vocab, int32_t token) {
  if (token < 0 || token >= vocab.n_tokens())
    throw Error("token id " + std::to_string(token) + " is outside the vocabulary of " +
                vocab.source + " (0.." + std::to_string(vocab.n_tokens() - 1) + ")");
}
}  // namespace

std::string Tokenizer::token_text(int32_t token) const {
  check_id(*vocab_, token);
  return vocab_->text[token];
}

const std::string& Tokenizer::token_piece(int32_t token, bool render_special) const {
  check_id(*vocab_, token);
  return render_special ? vocab_->piece_special[token] : vocab_->piece_plain[token];
}

std::string Tokenizer::decode(std::span<const int32_t> tokens, bool render_special) const {
  std::string out;
  for (int32_t t : tokens) out += token_piece(t, render_special);
  return out;
}

int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
bool Tokenizer::is_end_of_generation(int32_t token) const { return vocab_->eog.count(token) > 0; }
bool Tokenizer::is_control(int32_t token) const {
  return token >= 0 && token < vocab_->n_tokens() &&
         (vocab_->attr[token] & (kAttrControl | kAttrUnknown)) != 0;
}
bool Tokenizer::add_bos_default() const { return vocab_->add_bos; }
int32_t Tokenizer::n_vocab() const { return vocab_->n_tokens(); }
const std::string& Tokenizer::model_name() const { return vocab_->model_name; }
const std::string& Tokenizer::pre() const { return vocab_->pre_name; }

}  // namespace hearth

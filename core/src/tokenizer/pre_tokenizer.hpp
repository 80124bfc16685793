// Regex pre-tokenization for byte-level BPE, with ICU regular expressions so that \p{L}, \p{N},
// \p{P} and \s follow Unicode. Each pattern of the sequence splits every piece the previous
// one produced into its matches and the unmatched stretches between them; all are kept. This is
// llama.cpp's unicode_regex_split and Hugging Face's Split pre-tokenizer with behavior
// "Isolated". A pattern sees only its piece: lookaheads and \z stop at the piece's end.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::tokenizer_detail {

class PreTokenizer {
 public:
  // Throws hearth::Error (naming the pattern and the position ICU reports) if one does not
  // compile. `where` names the source for that message.
  PreTokenizer(std::vector<std::string> patterns, std::string_view where);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // The words of valid UTF-8 text, as views into it, in order; they cover the text exactly.
  std::vector<std::string_view> split(std::string_view text) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

 private:
  struct Compiled;
  std::vector<std::string> patterns_;
  std::unique_ptr<Compiled> compiled_;
};

// What a tokenizer.ggml.pre value means in llama.cpp (llama-vocab.cpp): the regex sequence and
// the defaults that go with it.
struct PreTokenizerSpec {
  std::vector<std::string> patterns;
  bool ignore_merges = false;  // a word that is itself a token skips the merges
  bool add_bos = false;
  bool no_bos = false;  // the vocabulary's BOS is not used (chatglm-bpe)
};
// nullopt for names llama.cpp does not know.
std::optional<PreTokenizerSpec> gguf_pre_tokenizer_spec(std::string_view pre);
// The names gguf_pre_tokenizer_spec knows, comma-separated, for error messages.
std::string known_gguf_pre_tokenizers();

// The regex GPT-2 (and Hugging Face's ByteLevel pre-tokenizer with use_regex) splits with.
extern const char* const kGpt2Pattern;
extern const char* const kHfByteLevelPattern;

}  // namespace hearth::tokenizer_detail

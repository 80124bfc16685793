// Tokenizers that reproduce llama.cpp's llama-vocab.cpp: SentencePiece-style ("llama": score-based
// merges, byte fallback <0xXX>, the "▁" space prefix) and byte-level BPE ("gpt2": a
// pre-tokenizer regex sequence chosen by tokenizer.ggml.pre, the GPT-2 byte-to-unicode map,
// rank-based merges). Loaded from GGUF metadata or from a Hugging Face tokenizer.json.
//
// Text contract:
// - encode() takes UTF-8. Invalid UTF-8 is rejected with hearth::Error naming the byte offset
//   (nothing is replaced silently: a replaced byte would change the token ids).
// - decode() and token pieces return the exact bytes the tokens stand for, which may be
//   incomplete UTF-8 when a multi-byte character is split over byte tokens. StreamingDecoder
//   returns only valid UTF-8.
// - Special tokens (control/unknown) decode to "" unless render_special is set; user-defined
//   (added, non-special) tokens always decode to their text, as in llama.cpp.
// - No clean_up_tokenization_spaces pass: decode() is the concatenation of the pieces, exactly
//   what llama.cpp prints when it streams tokens (so decode and StreamingDecoder agree).
#pragma once

#include <hearth/error.hpp>
#include <hearth/gguf.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

namespace tokenizer_detail {
struct Vocab;
}

class Tokenizer {
 public:
  // Reads tokenizer.ggml.* (spec: shared/specs/gguf.md). Throws hearth::Error naming the file
  // and key for a GGUF without a tokenizer, an unsupported tokenizer.ggml.model or .pre, or
  // malformed arrays.
  static Tokenizer from_gguf(const GgufFile& file);
  // A Hugging Face tokenizer.json with a byte-level BPE model: merges (either "a b" strings or
  // ["a", "b"] pairs), pre_tokenizer Split/ByteLevel (or a Sequence of them) with its regex,
  // added_tokens, normalizer NFC/NFD/NFKC/NFKD (or a Sequence). A tokenizer_config.json next to
  // it, if present, supplies bos_token / eos_token / add_bos_token. Throws hearth::Error naming
  // the file and the JSON path of anything unsupported or malformed.
  static Tokenizer from_hf_json(const std::filesystem::path& path);

  // add_bos: put bos() first (ignored when the vocabulary has no BOS). parse_special: text that
  // spells a control token (e.g. "<|im_start|>") becomes that token; user-defined tokens are
  // always split out first, as llama.cpp does.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // The vocabulary entry as stored ("▁Once", "Ġthe", "<s>", "<0x0A>"). Throws for ids outside
  // [0, n_vocab).
  std::string token_text(int32_t token) const;
  // The bytes a token stands for, as llama.cpp's token_to_piece (lstrip 0).
  const std::string& token_piece(int32_t token, bool render_special = false) const;
  std::string decode(std::span<const int32_t> tokens, bool render_special = false) const;

  int32_t bos() const;  // -1 if none
  int32_t eos() const;
  int32_t eot() const;
  bool is_end_of_generation(int32_t token) const;
  bool is_control(int32_t token) const;  // control or unknown: a special token
  bool add_bos_default() const;
  int32_t n_vocab() const;
  const std::string& model_name() const;  // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  const std::string& pre() const;         // the pre-tokenizer name ("default" for "llama")

  Tokenizer(const Tokenizer&) = default;
  Tokenizer(Tokenizer&&) noexcept = default;
  Tokenizer& operator=(const Tokenizer&) = default;
  Tokenizer& operator=(Tokenizer&&) noexcept = default;
  ~Tokenizer();

 private:
  explicit Tokenizer(std::shared_ptr<const tokenizer_detail::Vocab> vocab);
  std::shared_ptr<const tokenizer_detail::Vocab> vocab_;  // immutable, shared by copies
};

// Turns a stream of tokens into text that is always valid UTF-8: bytes of a character split
// over several tokens are held back until the character is complete. Bytes that can never form
// valid UTF-8 are replaced by U+FFFD (one per maximal invalid subsequence, as WHATWG decoders
// do). The Tokenizer must outlive the decoder.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool render_special = false);
  std::string push(int32_t token);
  // What is still held back (an incomplete character becomes U+FFFD); the decoder is then empty.
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace hearth

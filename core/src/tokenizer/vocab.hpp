// The tokenizer's immutable state, shared by the GGUF and tokenizer.json loaders and by the
// encoders. Field meanings follow llama.cpp's llama_vocab so that behavior can be compared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/normalizer.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace hearth::tokenizer_detail {

enum class VocabKind { Spm, Bpe };

// Token attributes as bit flags (llama.cpp's llama_token_attr).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

// GGUF tokenizer.ggml.token_type values.
enum class GgufTokenType : int64_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};
uint32_t attr_from_token_type(int64_t type);

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
  VocabKind kind = VocabKind::Spm;
  std::string model_name;  // "llama" / "gpt2"
  std::string pre_name;    // "default", "llama-bpe", ...
  std::string source;      // file name, for messages

  std::vector<std::string> text;  // by id
  std::vector<float> score;
  std::vector<uint32_t> attr;
  TokenIndex token_to_id;

  // BPE merges: "left right" -> rank.
  TokenIndex merge_rank;
  bool ignore_merges = false;
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // BPE only
  std::vector<NormalForm> normal_forms;         // tokenizer.json normalizer
  bool prefix_space_per_fragment = false;       // tokenizer.json ByteLevel add_prefix_space

  bool add_space_prefix = false;  // SPM
  bool add_bos = false;
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
  std::unordered_set<int32_t> eog;

  // Tokens split out of the text before tokenizing (control, user-defined, unknown), longest
  // text first.
  std::vector<int32_t> special_tokens;
  // token_to_piece(id, special=false) and (id, special=true), precomputed.
  std::vector<std::string> piece_plain;
  std::vector<std::string> piece_special;

  int32_t n_tokens() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const {
    auto it = token_to_id.find(s);
    return it == token_to_id.end() ? -1 : it->second;
  }
};

// Builds token_to_id from text; empty texts become "[EMPTY_<id>]" as in llama.cpp. A text that
// occurs twice is an error (llama.cpp asserts): hearth::Error naming both ids.
void index_tokens(Vocab& vocab);

// The final steps both loaders share, in llama.cpp's order: eot/eom/fim tokens found by their
// text when the file does not name them (and marked control), the end-of-generation set, the
// special-token list, the piece caches, and the per-model attributes (Phi-3's rstrip).
// general_name is the model's general.name (may be empty).
void finish_vocab(Vocab& vocab, std::string_view general_name);

}  // namespace hearth::tokenizer_detail

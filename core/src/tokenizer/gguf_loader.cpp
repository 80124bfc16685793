// Tokenizer::from_gguf: the tokenizer.ggml.* keys, read with llama.cpp's defaults
// (llama-vocab.cpp, llama_vocab::impl::load).
#include <hearth/tokenizer.hpp>

#include <initializer_list>
#include <utility>

#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/vocab.hpp"

namespace hearth {

using namespace tokenizer_detail;

namespace {

std::string key_error(const GgufFile& f, std::string_view key, std::string_view what) {
  return f.name() + ": key '" + std::string(key) + "' " + std::string(what);
}

const GgufArray& require_array(const GgufFile& f, std::string_view key, GgufType element) {
  const GgufArray* a = f.get_array(key);
  if (a == nullptr)
    throw Error(key_error(f, key,
                          "is missing; the tokenizer cannot be built without it (re-convert the "
                          "model with llama.cpp's convert_hf_to_gguf.py)."));
  if (a->element_type != element)
    throw Error(key_error(f, key,
                          "holds " + std::string(gguf_type_name(a->element_type)) +
                              " elements, expected " + std::string(gguf_type_name(element))));
  return *a;
}

// An optional per-token array: nullptr if absent; an error if its length is not n_tokens.
const GgufArray* optional_token_array(const GgufFile& f, std::string_view key, size_t n_tokens) {
  const GgufArray* a = f.get_array(key);
  if (a != nullptr && a->values.size() != n_tokens)
    throw Error(key_error(f, key,
                          "has " + std::to_string(a->values.size()) +
                              " entries but tokenizer.ggml.tokens has " + std::to_string(n_tokens) +
                              "; the file is inconsistent."));
  return a;
}

void read_tokens(const GgufFile& f, Vocab& v) {
  const GgufArray& tokens = require_array(f, "tokenizer.ggml.tokens", GgufType::STRING);
  const size_t n = tokens.values.size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX))
    throw Error(key_error(f, "tokenizer.ggml.tokens",
                          "has " + std::to_string(n) + " tokens; a vocabulary needs 1 to 2^31-1."));
  const GgufArray* scores = optional_token_array(f, "tokenizer.ggml.scores", n);
  const GgufArray* types = optional_token_array(f, "tokenizer.ggml.token_type", n);
  v.text.resize(n);
  v.score.assign(n, 0.0f);
  v.attr.assign(n, kAttrNormal);
  for (size_t i = 0; i < n; ++i) {
    v.text[i] = *tokens.values[i].as_string();
    if (scores != nullptr) {
      const auto s = scores->values[i].as_float();
      if (!s)
        throw Error(key_error(f, "tokenizer.ggml.scores",
                              "entry " + std::to_string(i) + " is not a number."));
      v.score[i] = static_cast<float>(*s);
    }
    if (types != nullptr) {
      const auto t = types->values[i].as_int();
      if (!t)
        throw Error(key_error(f, "tokenizer.ggml.token_type",
                              "entry " + std::to_string(i) + " is not an integer."));
      v.attr[i] = attr_from_token_type(*t);
    }
  }
  index_tokens(v);
}

void read_merges(const GgufFile& f, Vocab& v) {
  const GgufArray& merges = require_array(f, "tokenizer.ggml.merges", GgufType::STRING);
  v.merge_rank.reserve(merges.values.size());
  for (size_t i = 0; i < merges.values.size(); ++i) {
    const std::string& m = *merges.values[i].as_string();
    // "left right", split at the first space after position 0 (a left part may be a space).
    const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
    if (space == std::string::npos) continue;  // llama.cpp records an empty pair: never used
    v.merge_rank.emplace(m, static_cast<int32_t>(i));  // the first of duplicates wins
  }
}

void read_special_ids(const GgufFile& f, Vocab& v) {
  const std::pair<const char*, int32_t*> keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},
      {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.eot_token_id", &v.eot},
      {"tokenizer.ggml.eom_token_id", &v.eom},
      {"tokenizer.ggml.unknown_token_id", &v.unk},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre},
      {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid},
      {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep},
      {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
      {"tokenizer.ggml.prefix_token_id", &v.fim_pre},
      {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
      {"tokenizer.ggml.middle_token_id", &v.fim_mid},
  };
  for (const auto& [key, id] : keys) {
    const auto value = f.get_int(key);
    // llama.cpp keeps the default for an id outside the vocabulary (with a warning).
    if (value && *value >= 0 && *value < v.n_tokens()) *id = static_cast<int32_t>(*value);
  }
  if (const auto add_bos = f.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *add_bos;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const GgufFile& f) {
  auto v = std::make_shared<Vocab>();
  v->source = f.name();
  const std::optional<std::string> model = f.get_string("tokenizer.ggml.model");
  if (!model)
    throw Error(f.name() +
                ": the model has no tokenizer.ggml.model key, so this GGUF carries no "
                "tokenizer. Use a GGUF converted with its tokenizer (llama.cpp's "
                "convert_hf_to_gguf.py writes one), or load the model's tokenizer.json with "
                "Tokenizer::from_hf_json.");
  v->model_name = *model;
  std::optional<PreTokenizerSpec> spec;
  if (*model == "llama") {
    v->kind = VocabKind::Spm;
    v->pre_name = "default";
    v->bos = 1;
    v->eos = 2;
    v->unk = 0;
    v->add_bos = true;
    v->add_space_prefix = true;
  } else if (*model == "gpt2") {
    v->kind = VocabKind::Bpe;
    v->bos = 11;  // llama.cpp's fallbacks, used only when the file names no ids
    v->eos = 11;
    v->pre_name = f.get_string("tokenizer.ggml.pre").value_or("");
    if (v->pre_name.empty()) v->pre_name = "default";
    spec = gguf_pre_tokenizer_spec(v->pre_name);
    if (!spec)
      throw Error(key_error(f, "tokenizer.ggml.pre",
                            "is '" + v->pre_name +
                                "', a pre-tokenizer Hearth does not know. Known: " +
                                known_gguf_pre_tokenizers() + "."));
    v->ignore_merges = spec->ignore_merges;
    v->add_bos = spec->add_bos;
    if (spec->no_bos) v->bos = -1;
  } else if (*model == "none" || *model == "no_vocab") {
    throw Error(f.name() + ": tokenizer.ggml.model is '" + *model +
                "': the model has no vocabulary, so it cannot take text. Use a GGUF with a "
                "tokenizer, or load one with Tokenizer::from_hf_json.");
  } else {
    throw Error(key_error(f, "tokenizer.ggml.model",
                          "is '" + *model +
                              "', which Hearth does not support; supported: 'llama' "
                              "(SentencePiece) and 'gpt2' (byte-level BPE)."));
  }
  if (const auto prefix = f.get_bool("tokenizer.ggml.add_space_prefix"))
    v->add_space_prefix = *prefix;

  read_tokens(f, *v);
  if (v->kind == VocabKind::Bpe) {
    read_merges(f, *v);
    v->pre_tokenizer = std::make_unique<PreTokenizer>(std::move(spec->patterns), f.name());
  }
  read_special_ids(f, *v);
  finish_vocab(*v, f.get_string("general.name").value_or(""));
  return Tokenizer(std::move(v));
}

}  // namespace hearth

#include "tokenizer/vocab.hpp"

#include <hearth/error.hpp>

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "tokenizer/byte_level.hpp"
#include "tokenizer/utf8.hpp"

namespace hearth::tokenizer_detail {

uint32_t attr_from_token_type(int64_t type) {
  switch (static_cast<GgufTokenType>(type)) {
    case GgufTokenType::Unknown:
      return kAttrUnknown;
    case GgufTokenType::Unused:
      return kAttrUnused;
    case GgufTokenType::Normal:
      return kAttrNormal;
    case GgufTokenType::Control:
      return kAttrControl;
    case GgufTokenType::UserDefined:
      return kAttrUserDefined;
    case GgufTokenType::Byte:
      return kAttrByte;
    case GgufTokenType::Undefined:
      break;
  }
  return kAttrUndefined;
}

void index_tokens(Vocab& vocab) {
  vocab.token_to_id.clear();
  vocab.token_to_id.reserve(vocab.text.size());
  for (size_t i = 0; i < vocab.text.size(); ++i) {
    std::string& t = vocab.text[i];
    if (t.empty()) t = "[EMPTY_" + std::to_string(i) + "]";
    auto [it, inserted] = vocab.token_to_id.emplace(t, static_cast<int32_t>(i));
    if (!inserted)
      throw Error(vocab.source + ": tokens " + std::to_string(it->second) + " and " +
                  std::to_string(i) + " have the same text '" + t +
                  "'; every token text must be unique (the vocabulary is corrupt; re-export "
                  "it).");
  }
}

namespace {

// Finds the first of `texts` (in the order given, the most specific first) that is a token
// and makes it control, as llama.cpp does for tokens it recognizes by name. (llama.cpp takes
// whichever its hash map yields first; a fixed order makes the choice reproducible.)
void detect_by_text(Vocab& vocab, int32_t& id, std::initializer_list<std::string_view> texts) {
  if (id >= 0) return;
  for (std::string_view t : texts) {
    const int32_t found = vocab.find(t);
    if (found < 0) continue;
    id = found;
    if ((vocab.attr[found] & kAttrControl) == 0) vocab.attr[found] = kAttrControl;
    return;
  }
}

std::string unescape_spm_whitespace(const std::string& text) {
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// Every code point back to its byte; a code point that stands for no byte is kept visible the
// way llama.cpp's llama_decode_text shows it.
std::string byte_level_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t n = valid_utf8_sequence_length(text, i);
    if (n == 0) {  // not UTF-8 at all: not a byte-level token; keep the byte
      out += text[i++];
      continue;
    }
    char32_t cp = static_cast<unsigned char>(text[i]);
    if (n > 1) {
      cp &= (0x7Fu >> n);
      for (size_t k = 1; k < n; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    if (auto b = unicode_to_byte(cp)) {
      out += static_cast<char>(*b);
    } else {
      out += "[UNK_BYTE_0x";
      for (size_t k = 0; k < n; ++k) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(text[i + k]));
        out += hex;
      }
      out += text + "]";
    }
    i += n;
  }
  return out;
}

int parse_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

char spm_byte_token_value(const Vocab& vocab, size_t id) {
  const std::string& t = vocab.text[id];
  const int hi = t.size() == 6 ? parse_hex_digit(t[3]) : -1;
  const int lo = t.size() == 6 ? parse_hex_digit(t[4]) : -1;
  if (t.rfind("<0x", 0) != 0 || t.back() != '>' || hi < 0 || lo < 0)
    throw Error(vocab.source + ": token " + std::to_string(id) + " '" + t +
                "' has type BYTE but is not of the form <0xXX>; the vocabulary is corrupt.");
  return static_cast<char>(hi * 16 + lo);
}

std::string piece_of(const Vocab& vocab, size_t id, bool special) {
  const uint32_t a = vocab.attr[id];
  const std::string& t = vocab.text[id];
  if (a & (kAttrUnknown | kAttrControl)) return special ? t : std::string();
  if (a & kAttrUserDefined) return t;
  if (a & kAttrNormal)
    return vocab.kind == VocabKind::Spm ? unescape_spm_whitespace(t) : byte_level_decode(t);
  if ((a & kAttrByte) && vocab.kind == VocabKind::Spm)
    return std::string(1, spm_byte_token_value(vocab, id));
  return {};  // unused / undefined tokens print nothing, as in llama.cpp
}

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

void set_attr(Vocab& vocab, int32_t id, uint32_t flag, bool on) {
  if (id < 0) return;
  vocab.attr[id] = on ? (vocab.attr[id] | flag) : (vocab.attr[id] & ~flag);
}

}  // namespace

void finish_vocab(Vocab& vocab, std::string_view general_name) {
  const int32_t n = vocab.n_tokens();
  for (int32_t* id :
       {&vocab.bos, &vocab.eos, &vocab.eot, &vocab.eom, &vocab.unk, &vocab.fim_pre, &vocab.fim_suf,
        &vocab.fim_mid, &vocab.fim_pad, &vocab.fim_rep, &vocab.fim_sep})
    if (*id >= n) *id = -1;

  detect_by_text(vocab, vocab.eot,
                 {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
                  "<\xEF\xBD\x9C"
                  "end\xE2\x96\x81"
                  "of\xE2\x96\x81"
                  "sentence\xEF\xBD\x9C>"});
  detect_by_text(vocab, vocab.eom, {"<|eom_id|>"});
  detect_by_text(vocab, vocab.fim_pre,
                 {"<|fim_prefix|>", "<fim-prefix>",
                  "<\xEF\xBD\x9C"
                  "fim\xE2\x96\x81"
                  "begin\xEF\xBD\x9C>",
                  "<PRE>"});
  detect_by_text(vocab, vocab.fim_suf,
                 {"<|fim_suffix|>", "<fim-suffix>",
                  "<\xEF\xBD\x9C"
                  "fim\xE2\x96\x81"
                  "hole\xEF\xBD\x9C>",
                  "<SUF>"});
  detect_by_text(vocab, vocab.fim_mid,
                 {"<|fim_middle|>", "<fim-middle>",
                  "<\xEF\xBD\x9C"
                  "fim\xE2\x96\x81"
                  "end\xEF\xBD\x9C>",
                  "<MID>"});
  detect_by_text(vocab, vocab.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<PAD>"});
  detect_by_text(vocab, vocab.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"});
  detect_by_text(vocab, vocab.fim_sep, {"<|file_sep|>"});

  vocab.eog.clear();
  for (int32_t id : {vocab.fim_pad, vocab.fim_rep, vocab.fim_sep})
    if (id >= 0) vocab.eog.insert(id);
  for (std::string_view t : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                             "<|endoftext|>", "<|eom_id|>", "<EOT>"}) {
    const int32_t id = vocab.find(t);
    if (id < 0) continue;
    vocab.eog.insert(id);
    if ((vocab.attr[id] & kAttrControl) == 0) vocab.attr[id] = kAttrControl;
  }
  for (int32_t id : {vocab.eos, vocab.eot, vocab.eom})
    if (id >= 0) vocab.eog.insert(id);

  vocab.special_tokens.clear();
  for (int32_t id = 0; id < n; ++id)
    if (vocab.attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown))
      vocab.special_tokens.push_back(id);
  std::stable_sort(
      vocab.special_tokens.begin(), vocab.special_tokens.end(),
      [&](int32_t a, int32_t b) { return vocab.text[a].size() > vocab.text[b].size(); });

  vocab.piece_plain.resize(n);
  vocab.piece_special.resize(n);
  for (int32_t id = 0; id < n; ++id) {
    vocab.piece_plain[id] = piece_of(vocab, id, false);
    vocab.piece_special[id] = piece_of(vocab, id, true);
  }

  // Per-model attributes llama.cpp sets by name (GGUF has no field for them).
  const std::string name = lowercase_ascii(general_name);
  if (vocab.pre_name.find("jina-v2-") != std::string::npos) {
    set_attr(vocab, vocab.find("<mask>"), kAttrLstrip, true);
  } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (int32_t id : vocab.special_tokens) set_attr(vocab, id, kAttrRstrip, true);
    set_attr(vocab, vocab.find("</s>"), kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
      set_attr(vocab, vocab.find(t), kAttrRstrip, false);
  }
}

}  // namespace hearth::tokenizer_detail

// Tokenizer::from_hf_json: a Hugging Face tokenizer.json with a byte-level BPE model, mapped
// onto the same Vocab the GGUF loader builds (as llama.cpp's convert_hf_to_gguf.py would).
#include <hearth/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocab.hpp"

namespace hearth {

using namespace tokenizer_detail;
using nlohmann::json;

namespace {

// Patterns tokenizer.json files use, mapped to the llama.cpp pre-tokenizer names they
// correspond to (for pre() and for llama.cpp's per-name defaults such as add_bos).
constexpr const char* kHfLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kHfQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

class JsonSource {
 public:
  explicit JsonSource(std::string file) : file_(std::move(file)) {}
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(file_ + ": " + where + " " + what);
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path.string() + ": cannot open the tokenizer file; check the path.", HEARTH_ERR_IO);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  try {
    return json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    throw Error(path.string() + ": not valid JSON (byte " + std::to_string(e.byte) +
                "): " + e.what());
  }
}

const json& member(const JsonSource& src, const json& obj, const std::string& where,
                   const char* key) {
  if (!obj.is_object() || !obj.contains(key))
    src.fail(where, std::string("has no \"") + key + "\"");
  return obj.at(key);
}

std::string string_of(const JsonSource& src, const json& v, const std::string& where) {
  if (!v.is_string()) src.fail(where, "must be a string, not " + std::string(v.type_name()));
  return v.get<std::string>();
}

bool bool_or(const json& obj, const char* key, bool fallback) {
  if (!obj.is_object() || !obj.contains(key) || obj.at(key).is_null()) return fallback;
  return obj.at(key).is_boolean() ? obj.at(key).get<bool>() : fallback;
}

// A literal string as an ICU pattern.
std::string quote_regex(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (!std::isalnum(c)) out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t n = valid_utf8_sequence_length(s, i);
    out.append(s.substr(i, n == 0 ? 1 : n));
    i += n == 0 ? 1 : n;
  }
  return out;
}

void read_normalizer(const JsonSource& src, const json& n, const std::string& where, Vocab& v) {
  if (n.is_null()) return;
  const std::string type = string_of(src, member(src, n, where, "type"), where + ".type");
  if (type == "Sequence") {
    const json& list = member(src, n, where, "normalizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_normalizer(src, list[i], where + ".normalizers[" + std::to_string(i) + "]", v);
  } else if (type == "NFC") {
    v.normal_forms.push_back(NormalForm::Nfc);
  } else if (type == "NFD") {
    v.normal_forms.push_back(NormalForm::Nfd);
  } else if (type == "NFKC") {
    v.normal_forms.push_back(NormalForm::Nfkc);
  } else if (type == "NFKD") {
    v.normal_forms.push_back(NormalForm::Nfkd);
  } else {
    src.fail(where, "is a \"" + type +
                        "\" normalizer, which Hearth does not support (supported: NFC, NFD, NFKC, "
                        "NFKD, Sequence). Convert the model to GGUF with llama.cpp instead.");
  }
}

struct PreTokenizerPlan {
  std::vector<std::string> patterns;
  bool byte_level = false;
  bool prefix_space = false;
};

void read_pre_tokenizer(const JsonSource& src, const json& p, const std::string& where,
                        PreTokenizerPlan& plan) {
  const std::string type = string_of(src, member(src, p, where, "type"), where + ".type");
  if (type == "Sequence") {
    const json& list = member(src, p, where, "pretokenizers");
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(src, list[i], where + ".pretokenizers[" + std::to_string(i) + "]", plan);
  } else if (type == "Split") {
    const std::string behavior =
        string_of(src, member(src, p, where, "behavior"), where + ".behavior");
    if (behavior != "Isolated" || bool_or(p, "invert", false))
      src.fail(where, "is a Split with behavior \"" + behavior + "\"" +
                          (bool_or(p, "invert", false) ? " and invert" : "") +
                          "; Hearth supports Split with behavior Isolated only.");
    const json& pattern = member(src, p, where, "pattern");
    if (pattern.contains("Regex"))
      plan.patterns.push_back(string_of(src, pattern.at("Regex"), where + ".pattern.Regex"));
    else if (pattern.contains("String"))
      plan.patterns.push_back(
          quote_regex(string_of(src, pattern.at("String"), where + ".pattern.String")));
    else
      src.fail(where + ".pattern", "has neither \"Regex\" nor \"String\".");
  } else if (type == "ByteLevel") {
    if (bool_or(p, "add_prefix_space", false)) {
      if (!plan.patterns.empty())
        src.fail(where,
                 "is a ByteLevel with add_prefix_space after a Split; Hearth supports "
                 "add_prefix_space only when ByteLevel comes first.");
      plan.prefix_space = true;
    }
    if (bool_or(p, "use_regex", true)) plan.patterns.push_back(kHfByteLevelPattern);
    plan.byte_level = true;
  } else {
    src.fail(where, "is a \"" + type +
                        "\" pre-tokenizer, which Hearth does not support (supported: Split, "
                        "ByteLevel, Sequence).");
  }
}

void read_model(const JsonSource& src, const json& model, Vocab& v) {
  const std::string type =
      model.contains("type") ? string_of(src, model.at("type"), "model.type") : "BPE";
  if (type != "BPE")
    src.fail("model.type", "is \"" + type +
                               "\"; Hearth reads tokenizer.json files with a BPE model only "
                               "(convert others to GGUF with llama.cpp).");
  if (bool_or(model, "byte_fallback", false))
    src.fail("model.byte_fallback",
             "is true (a SentencePiece-style BPE); Hearth reads byte-level BPE tokenizer.json "
             "files only. Convert the model to GGUF with llama.cpp instead.");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (model.contains(key) && !model.at(key).is_null() &&
        !(model.at(key).is_string() && model.at(key).get<std::string>().empty()))
      src.fail(std::string("model.") + key,
               "is set; Hearth does not support subword prefixes/suffixes.");
  v.ignore_merges = bool_or(model, "ignore_merges", false);

  const json& vocab = member(src, model, "model", "vocab");
  if (!vocab.is_object()) src.fail("model.vocab", "must be an object of token -> id.");
  for (const auto& [text, id_value] : vocab.items()) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 ||
        id_value.get<int64_t>() >= INT32_MAX)
      src.fail("model.vocab[\"" + text + "\"]", "must be a non-negative integer id.");
    const auto id = static_cast<size_t>(id_value.get<int64_t>());
    if (id >= v.text.size()) v.text.resize(id + 1);
    if (!v.text[id].empty())
      src.fail("model.vocab[\"" + text + "\"]",
               "reuses id " + std::to_string(id) + " of \"" + v.text[id] + "\".");
    v.text[id] = text;
  }

  const json& merges = member(src, model, "model", "merges");
  if (!merges.is_array()) src.fail("model.merges", "must be an array.");
  v.merge_rank.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    std::string key;
    if (m.is_string()) {
      key = m.get<std::string>();
      if (key.size() < 2 || key.find(' ', 1) == std::string::npos)
        src.fail("model.merges[" + std::to_string(i) + "]",
                 "\"" + key + "\" is not \"left right\".");
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      key = m[0].get<std::string>() + " " + m[1].get<std::string>();
    } else {
      src.fail("model.merges[" + std::to_string(i) + "]",
               "must be \"left right\" or [\"left\", \"right\"].");
    }
    v.merge_rank.emplace(std::move(key), static_cast<int32_t>(i));
  }
}

void read_added_tokens(const JsonSource& src, const json& added, Vocab& v) {
  if (added.is_null()) return;
  if (!added.is_array()) src.fail("added_tokens", "must be an array.");
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string where = "added_tokens[" + std::to_string(i) + "]";
    const json& t = added[i];
    const json& id_value = member(src, t, where, "id");
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 ||
        id_value.get<int64_t>() >= INT32_MAX)
      src.fail(where + ".id", "must be a non-negative integer.");
    const auto id = static_cast<size_t>(id_value.get<int64_t>());
    const std::string content =
        string_of(src, member(src, t, where, "content"), where + ".content");
    if (id >= v.text.size()) v.text.resize(id + 1);
    v.text[id] = content;
    if (v.attr.size() < v.text.size()) v.attr.resize(v.text.size(), kAttrNormal);
    // As convert_hf_to_gguf.py: special added tokens are control tokens, others user-defined.
    uint32_t attr = bool_or(t, "special", false) ? kAttrControl : kAttrUserDefined;
    if (bool_or(t, "lstrip", false)) attr |= kAttrLstrip;
    if (bool_or(t, "rstrip", false)) attr |= kAttrRstrip;
    v.attr[id] = attr;
  }
}

// A post_processor that is a template ("[BOS] $A") tells whether BOS is added.
std::optional<bool> template_adds_bos(const json& post) {
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing") return std::nullopt;
  const json& single = post.contains("single") ? post.at("single") : json();
  return single.is_array() && !single.empty() && single[0].contains("SpecialToken");
}

std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const json& t = config.at(key);
  if (t.is_string()) return t.get<std::string>();
  if (t.is_object() && t.contains("content") && t.at("content").is_string())
    return t.at("content").get<std::string>();
  return std::nullopt;
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::filesystem::path& path) {
  const JsonSource src(path.string());
  const json root = read_json(path);
  if (!root.is_object()) src.fail("the top level", "must be a JSON object.");
  auto v = std::make_shared<Vocab>();
  v->source = path.string();
  v->kind = VocabKind::Bpe;
  v->model_name = "gpt2";

  read_model(src, member(src, root, "the top level", "model"), *v);
  v->attr.assign(v->text.size(), kAttrNormal);
  read_added_tokens(src, root.value("added_tokens", json()), *v);
  for (size_t id = 0; id < v->text.size(); ++id) {
    if (!v->text[id].empty()) continue;
    v->text[id] = "[PAD" + std::to_string(id) + "]";  // ids no entry names, as the converter pads
    v->attr[id] = kAttrUnused;
  }
  if (v->text.empty()) src.fail("model.vocab", "is empty.");
  index_tokens(*v);

  read_normalizer(src, root.value("normalizer", json()), "normalizer", *v);
  PreTokenizerPlan plan;
  const json pre = root.value("pre_tokenizer", json());
  if (!pre.is_null()) read_pre_tokenizer(src, pre, "pre_tokenizer", plan);
  if (!plan.byte_level)
    src.fail("pre_tokenizer",
             "has no ByteLevel step; Hearth reads byte-level BPE tokenizer.json files only "
             "(convert others to GGUF with llama.cpp).");
  v->prefix_space_per_fragment = plan.prefix_space;

  if (plan.patterns == std::vector<std::string>{kHfLlama3Pattern})
    v->pre_name = "llama-bpe";
  else if (plan.patterns == std::vector<std::string>{kHfQwen2Pattern})
    v->pre_name = "qwen2";
  else if (plan.patterns == std::vector<std::string>{kHfByteLevelPattern})
    v->pre_name = "gpt-2";
  else
    v->pre_name = "custom";
  if (auto spec = gguf_pre_tokenizer_spec(v->pre_name)) v->add_bos = spec->add_bos;
  v->pre_tokenizer = std::make_unique<PreTokenizer>(std::move(plan.patterns), path.string());

  // tokenizer_config.json beside it names BOS/EOS; a template post-processor says whether BOS
  // is added; either overrides llama.cpp's per-pre-tokenizer default.
  if (auto adds = template_adds_bos(root.value("post_processor", json()))) v->add_bos = *adds;
  const std::filesystem::path config_path = path.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    const json config = read_json(config_path);
    const JsonSource config_src(config_path.string());
    for (const auto& [key, id] : {std::pair<const char*, int32_t*>{"bos_token", &v->bos},
                                  std::pair<const char*, int32_t*>{"eos_token", &v->eos},
                                  std::pair<const char*, int32_t*>{"unk_token", &v->unk}}) {
      const auto text = config_token(config, key);
      if (!text) continue;
      *id = v->find(*text);
      if (*id < 0)
        config_src.fail(key,
                        "is \"" + *text + "\", which is not a token of " + path.string() + ".");
    }
    if (config.contains("add_bos_token") && config.at("add_bos_token").is_boolean())
      v->add_bos = config.at("add_bos_token").get<bool>();
  }
  if (v->bos < 0) v->add_bos = false;
  finish_vocab(*v, "");
  return Tokenizer(std::move(v));
}

}  // namespace hearth

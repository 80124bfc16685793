#include "tokenizer/pre_tokenizer.hpp"

#include <hearth/error.hpp>

#include <unicode/regex.h>
#include <unicode/utext.h>

#include <map>

namespace hearth::tokenizer_detail {

// ---------------------------------------------------------------- the patterns llama.cpp uses
// Written in ICU syntax with \x{...} for every non-ASCII character, so that no editor or
// normalization step can change them. Where llama.cpp adapted a Hugging Face pattern for
// std::regex (case-insensitive contractions spelled out), the adapted form is used, since that
// is what llama.cpp runs.

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const char* const kHfByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

constexpr const char* kLlama3Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: letters of the scripts that have case, ASCII and full-width punctuation, CJK.
constexpr const char* kDeepseekLlmCasedLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekLlmPunctuation =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

constexpr const char* kPoroPattern =
    R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";

std::vector<std::string> gpt2_sequence() { return {kGpt2Pattern}; }

std::map<std::string, PreTokenizerSpec, std::less<>> build_specs() {
  std::map<std::string, PreTokenizerSpec, std::less<>> specs;
  const PreTokenizerSpec llama3{{kLlama3Pattern}, true, true, false};
  for (const char* name : {"llama3", "llama-v3", "llama-bpe", "falcon3"}) specs[name] = llama3;
  specs["dbrx"] = {{kLlama3Pattern}, false, false, false};
  specs["smaug-bpe"] = {{kLlama3Pattern}, false, false, false};
  specs["chatglm-bpe"] = {{kLlama3Pattern}, false, false, true};
  specs["deepseek-llm"] = {{R"([\r\n])", kDeepseekLlmCasedLetters, kDeepseekLlmPunctuation,
                            R"(\s+\z)", kDeepseekCjk, R"(\p{N}+)"}};
  specs["deepseek-v3"] = {
      {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
       R"([!"#\$%&'()*+,\-./:;<=>?@\[\\\]^_`\{|\}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}};
  specs["deepseek-coder"] = {
      {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}};
  specs["falcon"] = {{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Pattern, R"([0-9][0-9][0-9])"}};
  for (const char* name :
       {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})
    specs[name] = {{R"(\p{N})", kGpt2Pattern}};
  for (const char* name :
       {"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
        "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})
    specs[name] = {gpt2_sequence()};
  for (const char* name : {"qwen2", "stablelm2", "megrez"}) specs[name] = {{kQwen2Pattern}};
  for (const char* name : {"poro-chat", "bloom", "gpt3-finnish"}) specs[name] = {{kPoroPattern}};
  specs["viking"] = {{kPoroPattern, R"(\p{N})"}};
  specs["tekken"] = {
      {R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
      true,
      true,
      false};
  specs["chameleon"] = {
      {R"(<sentinel:[0-9]+>)", R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)", R"(([\t\n]|    |  ))",
       R"(\p{N})", R"([\p{P}!-/:-@\[-`\{-~])", kGpt2Pattern},
      false,
      true,
      false};
  specs["default"] = {{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Pattern, R"(\p{N}+)", R"([0-9][0-9][0-9])"}};
  return specs;
}

const std::map<std::string, PreTokenizerSpec, std::less<>>& specs() {
  static const auto table = build_specs();
  return table;
}

struct UTextCloser {
  void operator()(UText* t) const { utext_close(t); }
};

}  // namespace

std::optional<PreTokenizerSpec> gguf_pre_tokenizer_spec(std::string_view pre) {
  auto it = specs().find(pre);
  if (it == specs().end()) return std::nullopt;
  return it->second;
}

std::string known_gguf_pre_tokenizers() {
  std::string names;
  for (const auto& [name, spec] : specs()) names += (names.empty() ? "" : ", ") + name;
  return names;
}

struct PreTokenizer::Compiled {
  std::vector<std::unique_ptr<icu::RegexPattern>> patterns;
};

PreTokenizer::PreTokenizer(std::vector<std::string> patterns, std::string_view where)
    : patterns_(std::move(patterns)), compiled_(std::make_unique<Compiled>()) {
  for (const std::string& p : patterns_) {
    UParseError parse_error{};
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexPattern> compiled(
        icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(p), 0, parse_error, status));
    if (U_FAILURE(status) || !compiled)
      throw Error(std::string(where) + ": the pre-tokenizer regex '" + p +
                  "' does not compile (ICU: " + u_errorName(status) + " at line " +
                  std::to_string(parse_error.line) + ", offset " +
                  std::to_string(parse_error.offset) +
                  "); fix the pattern or report the tokenizer as unsupported.");
    compiled_->patterns.push_back(std::move(compiled));
  }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  struct Range {
    int64_t begin, end;
  };
  std::vector<Range> pieces;
  if (text.empty()) return {};
  pieces.push_back({0, static_cast<int64_t>(text.size())});

  UErrorCode status = U_ZERO_ERROR;
  // Native indexes of a UTF-8 UText are byte offsets, so matches map straight back to text.
  std::unique_ptr<UText, UTextCloser> utext(
      utext_openUTF8(nullptr, text.data(), static_cast<int64_t>(text.size()), &status));
  if (U_FAILURE(status))
    throw Error(std::string("ICU cannot read the text: ") + u_errorName(status));

  for (const auto& pattern : compiled_->patterns) {
    std::unique_ptr<icu::RegexMatcher> matcher(pattern->matcher(status));
    if (U_FAILURE(status) || !matcher)
      throw Error(std::string("ICU cannot create a regex matcher: ") + u_errorName(status));
    matcher->reset(utext.get());
    std::vector<Range> next;
    next.reserve(pieces.size() * 2);
    for (const Range& piece : pieces) {
      matcher->region(piece.begin, piece.end, status);
      int64_t cursor = piece.begin;
      while (matcher->find()) {
        const int64_t s = matcher->start64(status);
        const int64_t e = matcher->end64(status);
        if (e == s) continue;  // an empty match splits nothing
        if (s > cursor) next.push_back({cursor, s});
        next.push_back({s, e});
        cursor = e;
      }
      if (cursor < piece.end) next.push_back({cursor, piece.end});
      if (U_FAILURE(status))
        throw Error(std::string("ICU regex matching failed: ") + u_errorName(status));
    }
    pieces = std::move(next);
  }

  std::vector<std::string_view> words;
  words.reserve(pieces.size());
  for (const Range& r : pieces)
    words.push_back(
        text.substr(static_cast<size_t>(r.begin), static_cast<size_t>(r.end - r.begin)));
  return words;
}

}  // namespace hearth::tokenizer_detail

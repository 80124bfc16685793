#include "synth_vocab.hpp"

#include <hearth/error.hpp>

#include <cstdlib>
#include <string_view>

namespace hearth::cli {
namespace {

constexpr int32_t kTokenTypeUnused = 5;  // llama.cpp's LLAMA_TOKEN_TYPE_UNUSED
constexpr float kPadScore = -1000.0f;

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// The per-token arrays grow by `pad` entries; other tokenizer keys are copied as they are.
GgufValue padded(const std::string& key, const GgufValue& value, int64_t n_tokens, int64_t pad) {
  const GgufArray* array = value.as_array();
  if (pad == 0 || !array || static_cast<int64_t>(array->values.size()) != n_tokens) return value;
  std::vector<GgufValue> values = array->values;
  for (int64_t i = n_tokens; i < n_tokens + pad; ++i) {
    if (key == "tokenizer.ggml.tokens")
      values.push_back(gguf_string("[PAD" + std::to_string(i) + "]"));
    else if (key == "tokenizer.ggml.scores")
      values.push_back(gguf_f32(kPadScore));
    else if (key == "tokenizer.ggml.token_type")
      values.push_back(gguf_i32(kTokenTypeUnused));
    else
      throw Error("cannot pad the vocabulary: unexpected per-token key '" + key + "'");
  }
  return gguf_array(array->element_type, std::move(values));
}

}  // namespace

std::filesystem::path find_vocab_file(const std::optional<std::string>& explicit_file,
                                      const SynthShape& shape) {
  if (explicit_file) {
    if (!std::filesystem::is_regular_file(*explicit_file))
      throw Error("--vocab " + *explicit_file + ": no such file");
    return *explicit_file;
  }
  std::vector<std::filesystem::path> tried;
  if (const char* dir = std::getenv("HEARTH_VOCAB_DIR"); dir && *dir)
    tried.push_back(std::filesystem::path(dir) / shape.vocab_file);
  if (const char* dir = std::getenv("HEARTH_SHARED_DIR"); dir && *dir)
    tried.push_back(std::filesystem::path(dir) / "models" / "vocab" / shape.vocab_file);
  std::string where;
  for (const auto& path : tried) {
    if (std::filesystem::is_regular_file(path)) return path;
    where += "\n  " + path.string();
  }
  throw Error("shape " + shape.name + " takes its tokenizer from " + shape.vocab_file +
              ", which was not found; pass --vocab FILE (a GGUF with a tokenizer of at most " +
              std::to_string(shape.n_vocab) +
              " tokens) or set HEARTH_VOCAB_DIR to the directory "
              "that holds " +
              shape.vocab_file + (where.empty() ? "" : "\nlooked in:" + where));
}

void add_vocab(GgufWriter& writer, const std::filesystem::path& vocab_file, int64_t n_vocab) {
  const GgufFile vocab = GgufFile::open(vocab_file);
  const GgufArray* tokens = vocab.get_array("tokenizer.ggml.tokens");
  if (!tokens || !vocab.get_string("tokenizer.ggml.model"))
    throw Error(
        vocab.name() +
        ": holds no tokenizer (tokenizer.ggml.model and "
        "tokenizer.ggml.tokens); use a vocabulary GGUF such as llama.cpp's ggml-vocab-*.gguf");
  const auto n_tokens = static_cast<int64_t>(tokens->values.size());
  if (n_tokens > n_vocab)
    throw Error(vocab.name() + ": has " + std::to_string(n_tokens) + " tokens, more than the " +
                std::to_string(n_vocab) +
                " rows of this shape's embedding; pick a smaller vocabulary");
  for (const auto& kv : vocab.metadata())
    if (starts_with(kv.key, "tokenizer."))
      writer.set(kv.key, padded(kv.key, kv.value, n_tokens, n_vocab - n_tokens));
}

}  // namespace hearth::cli

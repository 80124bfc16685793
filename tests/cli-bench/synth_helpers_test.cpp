// The pieces `hearth synth` is made of: the shape table, the seeded random values and the
// padded vocabulary.
#include <gtest/gtest.h>
#include <hearth/error.hpp>
#include <hearth/gguf.hpp>
#include <hearth/tokenizer.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "synth_random.hpp"
#include "synth_shapes.hpp"
#include "synth_vocab.hpp"

namespace hearth::cli {
namespace {

const std::string kVocabDir = std::string(HEARTH_TEST_SHARED_DIR) + "/models/vocab/";

uint64_t n_params(const std::string& shape) {
  uint64_t n = 0;
  for (const auto& t : synth_tensors(*find_synth_shape(shape)))
    n += static_cast<uint64_t>(
        std::accumulate(t.ne.begin(), t.ne.end(), int64_t{1}, std::multiplies<>()));
  return n;
}

bool has(const std::vector<SynthTensor>& all, const std::string& name) {
  return std::any_of(all.begin(), all.end(), [&](const auto& t) { return t.name == name; });
}

SynthTensor tensor(const std::vector<SynthTensor>& all, const std::string& name) {
  for (const auto& t : all)
    if (t.name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

// The parameter counts the real checkpoints publish: the shapes are the real models' shapes.
TEST(SynthShapes, ParameterCountsMatchTheRealModels) {
  EXPECT_EQ(n_params("tinyllama-1.1b"), 1'100'048'384u);
  EXPECT_EQ(n_params("llama2-7b"), 6'738'415'616u);
  EXPECT_EQ(n_params("llama3-8b"), 8'030'261'248u);
  EXPECT_EQ(n_params("qwen2-0.5b"), 494'032'768u);
  EXPECT_EQ(n_params("qwen2-1.5b"), 1'543'714'304u);
}

TEST(SynthShapes, TensorsHaveTheConvertersNamesAndGgmlOrderShapes) {
  const auto tiny = synth_tensors(*find_synth_shape("tinyllama-1.1b"));
  EXPECT_EQ(tiny.size(), 1u + 22u * 9u + 2u);
  ASSERT_TRUE(has(tiny, "blk.21.attn_k.weight"));
  EXPECT_EQ(tensor(tiny, "blk.21.attn_k.weight").ne, (std::vector<int64_t>{2048, 256}));  // GQA
  EXPECT_EQ(tensor(tiny, "blk.0.ffn_down.weight").ne, (std::vector<int64_t>{5632, 2048}));
  EXPECT_EQ(tensor(tiny, "output.weight").ne, (std::vector<int64_t>{2048, 32000}));
  EXPECT_TRUE(tensor(tiny, "blk.0.ffn_norm.weight").is_norm);

  const auto qwen = synth_tensors(*find_synth_shape("qwen2-0.5b"));
  EXPECT_EQ(qwen.size(), 1u + 24u * 12u + 1u);
  EXPECT_FALSE(has(qwen, "output.weight"));  // tied to token_embd
  ASSERT_TRUE(has(qwen, "blk.0.attn_k.bias"));
  EXPECT_EQ(tensor(qwen, "blk.0.attn_q.bias").ne, (std::vector<int64_t>{896}));
  EXPECT_EQ(tensor(qwen, "blk.0.attn_k.bias").ne, (std::vector<int64_t>{128}));
  EXPECT_TRUE(tensor(qwen, "blk.0.attn_v.bias").is_bias);
  EXPECT_EQ(find_synth_shape("no-such-shape"), nullptr);
  EXPECT_NE(synth_shape_names().find("llama3-8b"), std::string::npos);
}

TEST(SynthRandom, TheSameSeedGivesTheSameValuesWhateverTheSplit) {
  const size_t n = 3 * kSynthChunkElems + 5;
  std::vector<float> whole(n), split(n), other(n);
  fill_normal(whole, 0, 7, "blk.0.attn_q.weight", 0.0f, 0.02f);
  // As two threads would: the first two chunks, then the rest starting at chunk 2.
  fill_normal(std::span(split).first(2 * kSynthChunkElems), 0, 7, "blk.0.attn_q.weight", 0.0f,
              0.02f);
  fill_normal(std::span(split).subspan(2 * kSynthChunkElems), 2 * kSynthChunkElems, 7,
              "blk.0.attn_q.weight", 0.0f, 0.02f);
  EXPECT_EQ(whole, split);
  fill_normal(other, 0, 8, "blk.0.attn_q.weight", 0.0f, 0.02f);
  EXPECT_NE(whole, other);
  fill_normal(other, 0, 7, "blk.0.attn_k.weight", 0.0f, 0.02f);
  EXPECT_NE(whole, other);
  // Chunks differ from each other too.
  EXPECT_FALSE(std::equal(whole.begin(), whole.begin() + 100, whole.begin() + kSynthChunkElems));
}

TEST(SynthRandom, ValuesHaveTheRequestedMeanAndSpread) {
  std::vector<float> v(1 << 20);
  fill_normal(v, 0, 1, "t", 0.0f, 0.02f);
  double sum = 0, sum_sq = 0;
  for (float x : v) sum += x, sum_sq += double{x} * x;
  const double mean = sum / static_cast<double>(v.size());
  const double sd = std::sqrt(sum_sq / static_cast<double>(v.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(sd, 0.02, 1e-4);
  for (float x : v) ASSERT_TRUE(std::isfinite(x));
}

TEST(SynthVocab, ASmallerVocabularyIsPaddedAndStillTokenizes) {
  GgufWriter writer;
  add_vocab(writer, kVocabDir + "ggml-vocab-deepseek-llm.gguf", 128256);
  writer.add_tensor("token_embd.weight", 0, {1, 128256},
                    std::vector<std::byte>(128256 * sizeof(float)));
  const std::vector<std::byte> bytes = writer.to_bytes();
  const GgufFile file = GgufFile::parse(bytes, "padded");
  const Tokenizer tokenizer = Tokenizer::from_gguf(file);
  EXPECT_EQ(tokenizer.n_vocab(), 128256);
  const GgufArray* tokens = file.get_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_EQ(tokens->values.size(), 128256u);
  EXPECT_EQ(*tokens->values.back().as_string(), "[PAD128255]");
  EXPECT_EQ(*tokens->values[102399].as_string(),
            *GgufFile::open(kVocabDir + "ggml-vocab-deepseek-llm.gguf")
                 .get_array("tokenizer.ggml.tokens")
                 ->values.back()
                 .as_string());
  EXPECT_EQ(file.get_array("tokenizer.ggml.token_type")->values.back().as_int(), 5);  // UNUSED
  const auto ids = tokenizer.encode("Hello world", false, false);
  ASSERT_FALSE(ids.empty());
  for (int32_t id : ids) EXPECT_LT(id, 102400);
}

TEST(SynthVocab, AVocabularyLargerThanTheEmbeddingIsRefused) {
  GgufWriter writer;
  try {
    add_vocab(writer, kVocabDir + "ggml-vocab-llama-spm.gguf", 1000);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("32000 tokens, more than the 1000"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hearth::cli

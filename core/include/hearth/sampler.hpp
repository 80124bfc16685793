// Picks the next token from logits: greedy, or penalties → top-k → top-p → min-p → temperature
// → a seeded draw, in llama.cpp's order. The same seed and inputs give the same tokens.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace hearth {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0: greedy (the first token with the largest logit)
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int32_t penalty_last_n = 64;  // how many recent tokens the penalties look at
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0xC0FFEE;
};

// Throws hearth::Error naming the parameter if a value is out of range.
void validate(const SamplerParams& params);

class Sampler {
 public:
  explicit Sampler(SamplerParams params);
  // history: the tokens so far (prompt and generated), for the penalties.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> history);
  const SamplerParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
};

}  // namespace hearth

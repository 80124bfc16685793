// Generation one token at a time, for a caller that runs the decoding itself (a scheduler that
// batches many sequences with BatchDecoder): the same sampling, stop rules and streamed text as
// generate() (generate.hpp), given the same logits.
#pragma once

#include <hearth/generate.hpp>
#include <hearth/sampler.hpp>
#include <hearth/session.hpp>
#include <hearth/tokenizer.hpp>

#include <memory>
#include <optional>
#include <span>
#include <string>

namespace hearth {

class SequenceGenerator {
 public:
  // The tokenizer must outlive the generator.
  SequenceGenerator(const Tokenizer& tokenizer, SamplerParams sampling, GenerateOptions options);
  ~SequenceGenerator();
  SequenceGenerator(SequenceGenerator&&) noexcept;
  SequenceGenerator& operator=(SequenceGenerator&&) noexcept;

  struct Step {
    std::string text;             // valid UTF-8 to show now; may be empty
    std::optional<int32_t> next;  // the token to decode next; nullopt when generation ended
  };
  // Takes the logits of the last token decoded into session (the prompt's last, then each
  // token this returned) and samples the next token. Once it returns no `next`, finished().
  Step advance(std::span<const float> logits, const Session& session);

  bool finished() const;
  GenerateStats::Stop stop_reason() const;
  int64_t generated_tokens() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace hearth

#include <hearth/error.hpp>
#include <hearth/sequence_generator.hpp>

#include "generate/stop_strings.hpp"

namespace hearth {

struct SequenceGenerator::State {
  State(const Tokenizer& t, SamplerParams sampling, GenerateOptions o)
      : tokenizer(t), sampler(sampling), options(std::move(o)), decoder(t), filter(options.stop) {}
  const Tokenizer& tokenizer;
  Sampler sampler;
  GenerateOptions options;
  StreamingDecoder decoder;
  detail::StopStringFilter filter;
  int64_t generated = 0;
  bool finished = false;
  GenerateStats::Stop stop = GenerateStats::Stop::length;
};

SequenceGenerator::SequenceGenerator(const Tokenizer& tokenizer, SamplerParams sampling,
                                     GenerateOptions options)
    : state_(std::make_unique<State>(tokenizer, sampling, std::move(options))) {}

SequenceGenerator::~SequenceGenerator() = default;
SequenceGenerator::SequenceGenerator(SequenceGenerator&&) noexcept = default;
SequenceGenerator& SequenceGenerator::operator=(SequenceGenerator&&) noexcept = default;

bool SequenceGenerator::finished() const { return state_->finished; }
GenerateStats::Stop SequenceGenerator::stop_reason() const { return state_->stop; }
int64_t SequenceGenerator::generated_tokens() const { return state_->generated; }

// Mirrors one turn of generate()'s loop; keep the two in step.
SequenceGenerator::Step SequenceGenerator::advance(std::span<const float> logits,
                                                   const Session& session) {
  State& s = *state_;
  if (s.finished) throw Error("advance() called on a finished generation");
  Step step;
  auto finish = [&](GenerateStats::Stop why) {
    s.finished = true;
    s.stop = why;
    if (why != GenerateStats::Stop::stop_string)
      step.text += s.filter.push(s.decoder.flush()) + s.filter.flush();
    return step;
  };
  const int64_t max = s.options.max_tokens;
  if (max >= 0 && s.generated >= max) return finish(GenerateStats::Stop::length);

  const int32_t token = s.sampler.sample(logits, session.history());
  if (s.options.stop_at_end_of_generation && s.tokenizer.is_end_of_generation(token))
    return finish(GenerateStats::Stop::end_of_generation);
  ++s.generated;
  step.text = s.filter.push(s.decoder.push(token));
  if (s.filter.stopped()) return finish(GenerateStats::Stop::stop_string);
  if (max >= 0 && s.generated >= max) return finish(GenerateStats::Stop::length);
  if (session.n_past() >= session.n_ctx()) return finish(GenerateStats::Stop::context_full);
  step.next = token;
  return step;
}

}  // namespace hearth

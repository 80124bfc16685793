#include <hearth/error.hpp>
#include <hearth/generate.hpp>

#include <chrono>

#include "generate/stop_strings.hpp"

namespace hearth {

GenerateStats generate(Session& session, Sampler& sampler, std::span<const int32_t> prompt,
                       const GenerateOptions& options, const TextCallback& on_text,
                       const TokenObserver& on_token) {
  using Clock = std::chrono::steady_clock;
  GenerateStats stats;
  if (prompt.empty()) throw Error("generation needs a prompt of at least one token");
  const Tokenizer& tokenizer = session.model().tokenizer();

  auto t0 = Clock::now();
  std::vector<float> logits = session.decode(prompt);
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  stats.prompt_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  StreamingDecoder decoder(tokenizer);
  detail::StopStringFilter filter(options.stop);
  auto emit = [&](const std::string& text) { return text.empty() || on_text(text); };
  auto t1 = Clock::now();
  stats.stop = GenerateStats::Stop::length;
  while (options.max_tokens < 0 || stats.generated_tokens < options.max_tokens) {
    const int32_t token = sampler.sample(logits, session.history());
    if (on_token) on_token(token);
    if (options.stop_at_end_of_generation && tokenizer.is_end_of_generation(token)) {
      stats.stop = GenerateStats::Stop::end_of_generation;
      break;
    }
    ++stats.generated_tokens;
    if (!emit(filter.push(decoder.push(token)))) {
      stats.stop = GenerateStats::Stop::callback;
      break;
    }
    if (filter.stopped()) {
      stats.stop = GenerateStats::Stop::stop_string;
      break;
    }
    if (options.max_tokens >= 0 && stats.generated_tokens >= options.max_tokens) break;
    if (session.n_past() >= session.n_ctx()) {
      stats.stop = GenerateStats::Stop::context_full;
      break;
    }
    const int32_t next[1] = {token};
    logits = session.decode(next);
  }
  if (stats.stop != GenerateStats::Stop::callback && stats.stop != GenerateStats::Stop::stop_string)
    emit(filter.push(decoder.flush()) + filter.flush());
  stats.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return stats;
}

}  // namespace hearth

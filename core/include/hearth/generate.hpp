// Generation: feed a prompt, then sample and stream text until a stop condition.
#pragma once

#include <hearth/sampler.hpp>
#include <hearth/session.hpp>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

struct GenerateOptions {
  int64_t max_tokens = -1;         // -1: until end of generation or the context is full
  std::vector<std::string> stop;   // text that ends generation (not itself emitted)
  bool stop_at_end_of_generation = true;
};

struct GenerateStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prompt_seconds = 0;
  double generate_seconds = 0;
  enum class Stop { length, end_of_generation, stop_string, callback, context_full } stop = Stop::length;
};

// Receives valid UTF-8 text as it is produced; return false to stop.
using TextCallback = std::function<bool(std::string_view text)>;
// Receives every sampled token id (before its text is released); optional.
using TokenObserver = std::function<void(int32_t token)>;

GenerateStats generate(Session& session, Sampler& sampler, std::span<const int32_t> prompt,
                       const GenerateOptions& options, const TextCallback& on_text,
                       const TokenObserver& on_token = {});

}  // namespace hearth

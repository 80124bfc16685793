// Perplexity as llama-perplexity computes it: the text is tokenized once (with BOS), cut into
// chunks of n_ctx tokens, each chunk starts with BOS, and only the second half is scored.
// With a KV policy on the session, chunks run token by token (the decode path), so eviction and
// demotion happen as they would in generation.
#pragma once

#include <hearth/session.hpp>

#include <functional>
#include <string>

namespace hearth {

struct PerplexityResult {
  double ppl = 0;
  double ppl_error = 0;  // standard error, as llama.cpp prints it
  int64_t chunks = 0;
  int64_t scored_tokens = 0;
  uint64_t kv_bytes_max = 0;  // the most bytes the KV cache held at the end of a step
};

// progress(chunk index, chunk count, running ppl)
using PerplexityProgress = std::function<void(int64_t, int64_t, double)>;

PerplexityResult perplexity(Session& session, const std::string& text, int64_t n_ctx,
                            const PerplexityProgress& progress = {});

}  // namespace hearth

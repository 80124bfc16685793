#include <hearth/error.hpp>
#include <hearth/perplexity.hpp>

#include <algorithm>
#include <cmath>

namespace hearth {

PerplexityResult perplexity(Session& session, const std::string& text, int64_t n_ctx,
                            const PerplexityProgress& progress) {
  const Tokenizer& tokenizer = session.model().tokenizer();
  const int64_t n_vocab = session.model().hparams().n_vocab;
  if (n_ctx < 4) throw Error("perplexity: the context must be at least 4 tokens, got " + std::to_string(n_ctx));
  if (n_ctx > session.n_ctx())
    throw Error("perplexity: chunks of " + std::to_string(n_ctx) + " tokens do not fit the session's context of " +
                std::to_string(session.n_ctx()));
  const bool add_bos = tokenizer.add_bos_default() && tokenizer.bos() >= 0;
  std::vector<int32_t> tokens = tokenizer.encode(text, add_bos, false);
  const int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (n_chunks == 0)
    throw Error("perplexity: the text has " + std::to_string(tokens.size()) +
                " tokens, fewer than one chunk of " + std::to_string(n_ctx) + "; use a smaller -c");

  const int64_t first = n_ctx / 2;
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  PerplexityResult result;
  for (int64_t chunk = 0; chunk < n_chunks; ++chunk) {
    const auto begin = tokens.begin() + chunk * n_ctx;
    std::vector<int32_t> batch(begin, begin + n_ctx);
    if (add_bos) batch[0] = tokenizer.bos();
    session.clear();
    std::vector<float> logits;
    if (session.has_kv_policy()) {
      // Token by token, as generation would run: the policy evicts and demotes after every step,
      // so each token is predicted from the cache the policy left.
      logits.reserve(static_cast<size_t>(n_ctx * n_vocab));
      for (int32_t token : batch) {
        const std::vector<float> row = session.decode(std::span(&token, 1));
        logits.insert(logits.end(), row.begin(), row.end());
        result.kv_bytes_max = std::max(result.kv_bytes_max, session.kv_usage().bytes_used);
      }
    } else {
      logits = session.decode(batch, true);
      result.kv_bytes_max = std::max(result.kv_bytes_max, session.kv_usage().bytes_used);
    }
    for (int64_t i = first; i < n_ctx - 1; ++i) {
      const float* row = logits.data() + i * n_vocab;
      const int32_t target = *(begin + i + 1);
      float max_logit = row[0];
      for (int64_t v = 1; v < n_vocab; ++v) max_logit = std::max(max_logit, row[v]);
      double sum_exp = 0;
      for (int64_t v = 0; v < n_vocab; ++v) sum_exp += std::exp(row[v] - max_logit);
      const double loss = -(row[target] - max_logit - std::log(sum_exp));
      nll += loss;
      nll2 += loss * loss;
      ++count;
    }
    if (progress) progress(chunk, n_chunks, std::exp(nll / static_cast<double>(count)));
  }
  const double mean = nll / static_cast<double>(count);
  double var = nll2 / static_cast<double>(count) - mean * mean;
  result.ppl = std::exp(mean);
  result.ppl_error = var > 0 && count > 1 ? std::sqrt(var / static_cast<double>(count - 1)) * result.ppl : 0;
  result.chunks = n_chunks;
  result.scored_tokens = count;
  return result;
}

}  // namespace hearth

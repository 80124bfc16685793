#include <hearth/error.hpp>
#include <hearth/sampler.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

namespace hearth {

void validate(const SamplerParams& p) {
  auto fail = [](const std::string& what) { throw Error("sampling: " + what); };
  if (!std::isfinite(p.temperature)) fail("temperature must be a finite number");
  if (!(p.top_p > 0.0f)) fail("top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (p.min_p < 0.0f || p.min_p > 1.0f) fail("min_p must be in [0, 1], got " + std::to_string(p.min_p));
  if (!(p.repeat_penalty > 0.0f)) fail("repeat_penalty must be positive, got " + std::to_string(p.repeat_penalty));
  if (p.penalty_last_n < -1) fail("penalty_last_n must be >= -1 (-1 = whole context)");
}

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) { validate(params_); }

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> history) {
  if (logits.empty()) throw Error("sampling: no logits");
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    candidates_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};

  // Penalties look at the last penalty_last_n tokens, as llama.cpp's penalties sampler does.
  const bool penalize = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                        params_.frequency_penalty != 0.0f;
  if (penalize && params_.penalty_last_n != 0 && !history.empty()) {
    size_t n = params_.penalty_last_n < 0 ? history.size()
                                          : std::min(history.size(), size_t(params_.penalty_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = history.size() - n; i < history.size(); ++i) ++counts[history[i]];
    for (const auto& [token, count] : counts) {
      if (token < 0 || static_cast<size_t>(token) >= candidates_.size()) continue;
      float& l = candidates_[static_cast<size_t>(token)].logit;
      l = l <= 0 ? l * params_.repeat_penalty : l / params_.repeat_penalty;
      l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
    }
  }

  if (params_.temperature <= 0.0f) {
    auto best = std::max_element(candidates_.begin(), candidates_.end(),
                                 [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; });
    return best->id;
  }

  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = static_cast<size_t>(params_.top_k);
    std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep),
                      candidates_.end(), by_logit);
    candidates_.resize(keep);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  auto softmax = [&] {
    const float max_logit = candidates_.front().logit;
    double sum = 0;
    for (auto& c : candidates_) sum += (c.p = std::exp(c.logit - max_logit));
    for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  };
  if (params_.top_p < 1.0f) {
    softmax();
    double cumulative = 0;
    size_t n = 0;
    while (n < candidates_.size()) {
      cumulative += candidates_[n++].p;
      if (cumulative >= params_.top_p) break;
    }
    candidates_.resize(std::max<size_t>(n, 1));
  }
  if (params_.min_p > 0.0f) {
    const float threshold = candidates_.front().logit + std::log(params_.min_p);
    size_t n = 1;
    while (n < candidates_.size() && candidates_[n].logit >= threshold) ++n;
    candidates_.resize(n);
  }
  for (auto& c : candidates_) c.logit /= params_.temperature;
  softmax();
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double r = uniform(rng_), cumulative = 0;
  for (const auto& c : candidates_) {
    cumulative += c.p;
    if (r < cumulative) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace hearth

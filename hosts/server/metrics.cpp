#include "server/metrics.hpp"

#include <sstream>

namespace hearth::server {
namespace {
constexpr std::chrono::seconds kRateWindow{10};
}

void Metrics::count_request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
  request_seconds_[endpoint] += seconds;
}

void Metrics::add_prompt_tokens(int64_t n) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += n;
}

void Metrics::add_generated_tokens(int64_t n) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  generated_tokens_ += n;
  recent_.emplace_back(now, n);
  while (!recent_.empty() && now - recent_.front().first > kRateWindow) recent_.pop_front();
}

void Metrics::count_step(int sequences) {
  std::lock_guard lock(mutex_);
  ++steps_;
  step_sequences_ += sequences;
}

int64_t Metrics::generated_tokens() const {
  std::lock_guard lock(mutex_);
  return generated_tokens_;
}

double Metrics::recent_rate(Clock::time_point now) const {
  int64_t tokens = 0;
  for (const auto& [when, n] : recent_)
    if (now - when <= kRateWindow) tokens += n;
  return static_cast<double>(tokens) / std::chrono::duration<double>(kRateWindow).count();
}

std::string Metrics::render(const SchedulerLoad& load) const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out << "# HELP hearth_requests_total HTTP requests by endpoint and status.\n"
      << "# TYPE hearth_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out << "hearth_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second
        << "\"} " << n << "\n";
  out << "# HELP hearth_request_seconds_total Time spent serving requests, by endpoint.\n"
      << "# TYPE hearth_request_seconds_total counter\n";
  for (const auto& [endpoint, s] : request_seconds_)
    out << "hearth_request_seconds_total{endpoint=\"" << endpoint << "\"} " << s << "\n";
  out << "# HELP hearth_prompt_tokens_total Prompt tokens evaluated.\n"
      << "# TYPE hearth_prompt_tokens_total counter\n"
      << "hearth_prompt_tokens_total " << prompt_tokens_ << "\n"
      << "# HELP hearth_generated_tokens_total Tokens generated.\n"
      << "# TYPE hearth_generated_tokens_total counter\n"
      << "hearth_generated_tokens_total " << generated_tokens_ << "\n"
      << "# HELP hearth_generation_tokens_per_second Tokens generated per second, all slots, last "
      << kRateWindow.count() << " s.\n"
      << "# TYPE hearth_generation_tokens_per_second gauge\n"
      << "hearth_generation_tokens_per_second " << recent_rate(Clock::now()) << "\n"
      << "# HELP hearth_decode_steps_total Batched forward passes run.\n"
      << "# TYPE hearth_decode_steps_total counter\n"
      << "hearth_decode_steps_total " << steps_ << "\n"
      << "# HELP hearth_decode_step_sequences_total Sequences carried by those passes.\n"
      << "# TYPE hearth_decode_step_sequences_total counter\n"
      << "hearth_decode_step_sequences_total " << step_sequences_ << "\n"
      << "# HELP hearth_queue_depth Requests waiting for a slot.\n"
      << "# TYPE hearth_queue_depth gauge\n"
      << "hearth_queue_depth " << load.queued << "\n"
      << "# HELP hearth_active_slots Slots generating now.\n"
      << "# TYPE hearth_active_slots gauge\n"
      << "hearth_active_slots " << load.active_slots << "\n"
      << "# HELP hearth_slots Slots configured (--parallel).\n"
      << "# TYPE hearth_slots gauge\n"
      << "hearth_slots " << load.slots << "\n";
  return out.str();
}

}  // namespace hearth::server

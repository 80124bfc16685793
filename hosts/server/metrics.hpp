// Counters for GET /metrics, in Prometheus' text exposition format. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace hearth::server {

struct SchedulerLoad {
  int active_slots = 0;
  int queued = 0;
  int slots = 0;
};

class Metrics {
 public:
  using Clock = std::chrono::steady_clock;
  void count_request(const std::string& endpoint, int status, double seconds);
  void add_prompt_tokens(int64_t n);
  void add_generated_tokens(int64_t n);
  // One forward pass that carried `sequences` sequences.
  void count_step(int sequences);
  int64_t generated_tokens() const;
  std::string render(const SchedulerLoad& load) const;

 private:
  // Generated tokens per second over the last window.
  double recent_rate(Clock::time_point now) const;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, double> request_seconds_;
  int64_t prompt_tokens_ = 0;
  int64_t generated_tokens_ = 0;
  int64_t steps_ = 0;
  int64_t step_sequences_ = 0;
  std::deque<std::pair<Clock::time_point, int64_t>> recent_;  // (when, tokens)
};

}  // namespace hearth::server

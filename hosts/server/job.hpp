// One generation request between the HTTP thread that serves it and the scheduler that runs it:
// what to generate, the text produced so far, and how it ended. Thread-safe.
#pragma once

#include <hearth/generate.hpp>
#include <hearth/sampler.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hearth::server {

struct JobSpec {
  std::vector<int32_t> prompt;
  SamplerParams sampling;
  GenerateOptions options;
};

struct JobResult {
  GenerateStats::Stop stop = GenerateStats::Stop::length;
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double queue_seconds = 0;     // waiting for a slot
  double prompt_seconds = 0;    // from getting a slot to the prompt's logits
  double generate_seconds = 0;  // from there to the end
  std::string error;            // why the job failed; empty when it did not
  bool cancelled = false;       // the client went away
};

class Job {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Job(JobSpec spec) : spec_(std::move(spec)) {}
  const JobSpec& spec() const { return spec_; }
  Clock::time_point created() const { return created_; }

  // Scheduler side.
  void push_text(const std::string& text);
  void finish(JobResult result);

  // Client side. cancel() asks the scheduler to drop the job at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  struct Output {
    std::string text;                 // everything produced since the last wait
    std::optional<JobResult> result;  // set once the job ended and all text was taken
  };
  // Waits up to timeout for text or the end.
  Output wait(std::chrono::milliseconds timeout);

 private:
  const JobSpec spec_;
  const Clock::time_point created_ = Clock::now();
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string pending_;
  std::optional<JobResult> result_;
};

}  // namespace hearth::server

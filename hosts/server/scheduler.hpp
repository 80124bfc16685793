// Continuous batching: a thread that runs up to `parallel` jobs at once, each in a slot with its
// own Session (KV cache). Every step gathers the next token of each generating slot and chunks
// of new prompts, runs them in ONE forward pass (BatchDecoder), and samples each slot's next
// token. Jobs beyond the slots wait in a bounded queue; a cancelled job leaves at the next step.
#pragma once

#include <hearth/batch.hpp>
#include <hearth/model.hpp>
#include <hearth/sequence_generator.hpp>
#include <hearth/session.hpp>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/job.hpp"
#include "server/metrics.hpp"

namespace hearth::server {

struct SchedulerOptions {
  int parallel = 4;
  int queue = 16;
  int64_t ctx_size = 2048;     // per slot
  int64_t batch_tokens = 512;  // most tokens in one forward pass
  SessionOptions slot_session;  // KV settings of each slot's session; n_ctx is ctx_size
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics& metrics);
  // Ends every job still running or waiting (as an error: the server is stopping).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // nullptr when all slots are busy and the queue is full. Throws hearth::Error for a prompt
  // that is empty or leaves no room in a slot's context.
  std::shared_ptr<Job> submit(JobSpec spec);
  SchedulerLoad load() const;
  int64_t ctx_size() const { return options_.ctx_size; }

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    std::shared_ptr<Job> job;
    std::optional<SequenceGenerator> generator;
    size_t prompt_done = 0;  // prompt tokens decoded so far
    int32_t next_token = 0;  // the sampled token to decode next, once the prompt is done
    Job::Clock::time_point started, prompt_finished;
  };
  void run();
  void take_queued_jobs();  // under mutex_
  void step();
  void release(Slot& slot, JobResult result);
  JobResult result_for(const Slot& slot) const;

  std::shared_ptr<const Model> model_;
  const SchedulerOptions options_;
  Metrics& metrics_;
  BatchDecoder decoder_;
  std::vector<Slot> slots_;  // touched by the scheduler thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  int active_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hearth::server

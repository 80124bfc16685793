#include "server/scheduler.hpp"

#include <hearth/error.hpp>

#include <algorithm>
#include <iostream>

namespace hearth::server {
namespace {
double seconds_between(Job::Clock::time_point a, Job::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

Scheduler::Scheduler(std::shared_ptr<const Model> model, SchedulerOptions options, Metrics& metrics)
    : model_(std::move(model)),
      options_(options),
      metrics_(metrics),
      // Every generating slot adds one token per step, so a step always has room for all.
      decoder_(model_, std::max<int64_t>(options.batch_tokens, options.parallel),
               options.parallel) {
  if (options_.parallel < 1) throw Error("the server needs at least one slot (--parallel)");
  if (options_.queue < 0) throw Error("the queue bound (--queue) cannot be negative");
  if (options_.ctx_size < 2)
    throw Error("a slot's context (--ctx-size) must hold at least 2 tokens");
  slots_.resize(static_cast<size_t>(options_.parallel));
  SessionOptions session = options_.slot_session;
  session.n_ctx = options_.ctx_size;
  session.n_batch = 1;
  for (auto& slot : slots_) slot.session = std::make_unique<Session>(model_, session);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  JobResult stopped;
  stopped.error = "the server is shutting down";
  for (auto& slot : slots_)
    if (slot.job) release(slot, stopped);
  for (auto& job : queue_) job->finish(stopped);
}

std::shared_ptr<Job> Scheduler::submit(JobSpec spec) {
  const int64_t n = static_cast<int64_t>(spec.prompt.size());
  if (n == 0) throw Error("the prompt is empty");
  if (n >= options_.ctx_size)
    throw Error("the prompt is " + std::to_string(n) + " tokens but a slot's context holds " +
                std::to_string(options_.ctx_size) + ", which leaves no room to reply");
  auto job = std::make_shared<Job>(std::move(spec));
  {
    std::lock_guard lock(mutex_);
    const int free_slots = options_.parallel - active_;
    if (static_cast<int>(queue_.size()) >= free_slots + options_.queue) return nullptr;
    queue_.push_back(job);
  }
  wake_.notify_all();
  return job;
}

SchedulerLoad Scheduler::load() const {
  std::lock_guard lock(mutex_);
  return SchedulerLoad{active_, static_cast<int>(queue_.size()), options_.parallel};
}

void Scheduler::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || active_ > 0; });
      if (stopping_) return;
      take_queued_jobs();
    }
    step();
  }
}

void Scheduler::take_queued_jobs() {
  for (auto& slot : slots_) {
    if (slot.job) continue;
    while (!queue_.empty() && queue_.front()->cancelled()) {
      JobResult gone;
      gone.cancelled = true;
      gone.queue_seconds = seconds_between(queue_.front()->created(), Job::Clock::now());
      queue_.front()->finish(gone);
      queue_.pop_front();
    }
    if (queue_.empty()) return;
    slot.job = std::move(queue_.front());
    queue_.pop_front();
    ++active_;
    slot.session->clear();
    slot.generator.emplace(model_->tokenizer(), slot.job->spec().sampling,
                           slot.job->spec().options);
    slot.prompt_done = 0;
    slot.started = Job::Clock::now();
  }
}

JobResult Scheduler::result_for(const Slot& slot) const {
  JobResult r;
  const auto now = Job::Clock::now();
  r.prompt_tokens = static_cast<int64_t>(slot.prompt_done);
  r.queue_seconds = seconds_between(slot.job->created(), slot.started);
  const bool prompt_done = slot.prompt_done == slot.job->spec().prompt.size();
  r.prompt_seconds = seconds_between(slot.started, prompt_done ? slot.prompt_finished : now);
  r.generate_seconds = prompt_done ? seconds_between(slot.prompt_finished, now) : 0.0;
  if (slot.generator) {
    r.generated_tokens = slot.generator->generated_tokens();
    r.stop = slot.generator->stop_reason();
  }
  return r;
}

void Scheduler::release(Slot& slot, JobResult result) {
  slot.job->finish(std::move(result));
  slot.job.reset();
  slot.generator.reset();
  {
    std::lock_guard lock(mutex_);
    --active_;
  }
}

void Scheduler::step() {
  for (auto& slot : slots_)
    if (slot.job && slot.job->cancelled()) {
      JobResult r = result_for(slot);
      r.cancelled = true;
      release(slot, r);
    }

  std::vector<SequenceStep> steps;
  std::vector<Slot*> owners;
  int64_t budget = decoder_.max_tokens();
  // Generating slots first (one token each), so a long new prompt never stalls their streams.
  for (auto& slot : slots_) {
    if (!slot.job || slot.prompt_done < slot.job->spec().prompt.size()) continue;
    steps.push_back(SequenceStep{slot.session.get(), std::span(&slot.next_token, 1), true, {}});
    owners.push_back(&slot);
    --budget;
  }
  for (auto& slot : slots_) {
    if (!slot.job || budget <= 0) continue;
    const auto& prompt = slot.job->spec().prompt;
    if (slot.prompt_done >= prompt.size()) continue;
    const size_t n = std::min(prompt.size() - slot.prompt_done, static_cast<size_t>(budget));
    const bool last = slot.prompt_done + n == prompt.size();
    steps.push_back(
        SequenceStep{slot.session.get(), std::span(prompt).subspan(slot.prompt_done, n), last, {}});
    owners.push_back(&slot);
    budget -= static_cast<int64_t>(n);
  }
  if (steps.empty()) return;

  try {
    decoder_.decode(steps);
  } catch (const std::exception& e) {
    for (Slot* slot : owners) {
      JobResult r = result_for(*slot);
      r.error = std::string("decoding failed: ") + e.what();
      release(*slot, r);
    }
    return;
  }
  metrics_.count_step(static_cast<int>(steps.size()));

  int64_t generated = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    Slot& slot = *owners[i];
    const auto& prompt = slot.job->spec().prompt;
    if (slot.prompt_done < prompt.size()) {
      slot.prompt_done += steps[i].tokens.size();
      metrics_.add_prompt_tokens(static_cast<int64_t>(steps[i].tokens.size()));
      if (slot.prompt_done < prompt.size()) continue;
      slot.prompt_finished = Job::Clock::now();
    }
    const int64_t before = slot.generator->generated_tokens();
    SequenceGenerator::Step next;
    try {
      next = slot.generator->advance(steps[i].logits, *slot.session);
    } catch (const std::exception& e) {
      JobResult r = result_for(slot);
      r.error = std::string("sampling failed: ") + e.what();
      release(slot, r);
      continue;
    }
    generated += slot.generator->generated_tokens() - before;
    slot.job->push_text(next.text);
    if (next.next)
      slot.next_token = *next.next;
    else
      release(slot, result_for(slot));
  }
  if (generated > 0) metrics_.add_generated_tokens(generated);
}

}  // namespace hearth::server

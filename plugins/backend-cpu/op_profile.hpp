// Where a cpu device's time goes, op by op: with profiling on (HEARTH_CPU_PROFILE=1 in the
// environment, or the device option profile=on) the device times every run() and the gaps between
// them (time spent outside the backend, in the engine), and prints the table when it closes.
// Profiling off costs one branch per op.
#pragma once

#include <hearth/sdk/abi.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "thread_pool.hpp"

namespace hearth::backend_cpu {

class OpProfile {
 public:
  using Clock = std::chrono::steady_clock;

  // One timed run() of op: its kind, the dtype that picks its kernel (the weight's for MATMUL and
  // EMBEDDING, the KV cache's for ATTENTION, COPY's destination, src[0]'s otherwise) and whether
  // it is a decode step (one token) or a prompt (several).
  // cpu_ns: the calling thread's CPU time in the call, which unlike the wall time does not grow
  // when other processes take the core (it does include spinning while waiting for workers).
  void record(const hearth_op& op, Clock::time_point start, Clock::time_point end, uint64_t cpu_ns);

  // Time inside the next record()ed op spent making a weight's interleaved copy (first use
  // only): listed on its own line and taken out of that op's time.
  void record_weight_copy(Clock::duration wall, uint64_t cpu_ns);

  // Time of the next record()ed op spent in the device's checks before the kernel (check_op,
  // check_op_data, dropping stale weight copies): listed on its own line, and still part of
  // the op's time.
  void record_checks(Clock::duration wall);

  // A copy_to_host: the engine reads the logits once per step, so this ends a step (a decode
  // token when the last op was a decode op).
  void record_step_end(Clock::time_point when);

  // The table: one line per (op, dtype, phase), then the time between ops outside the backend,
  // in ms per decode token and per call.
  std::string table(const PoolStats& pool) const;

  uint64_t decode_tokens() const { return decode_tokens_; }

 private:
  struct Key {
    uint32_t kind;
    uint32_t dtype;
    bool decode;
    auto tie() const { return std::tuple(decode, kind, dtype); }
    bool operator<(const Key& other) const { return tie() < other.tie(); }
  };
  struct Total {
    uint64_t calls = 0;
    uint64_t ns = 0;
    uint64_t cpu_ns = 0;
  };
  std::map<Key, Total> totals_;
  Total checks_;  // decode ops only
  Total weight_copies_;
  Total pending_copy_;       // in the op being run
  Total gap_in_token_;       // between two ops of one decode step
  Total gap_between_steps_;  // before a decode step's EMBEDDING: sampling, the next graph
  Clock::time_point last_end_{};
  bool have_last_ = false;
  bool decode_ = false;
  uint64_t pending_checks_ns_ = 0;  // the last op had one token
  bool step_ended_ = false;         // a copy_to_host came after the last op
  uint64_t decode_tokens_ = 0;
};

// True when the environment asks for profiling: HEARTH_CPU_PROFILE set to anything but "" or "0".
bool profile_requested_by_environment();

// The calling thread's CPU time so far (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.
uint64_t thread_cpu_ns();

}  // namespace hearth::backend_cpu

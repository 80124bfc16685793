// A small persistent thread pool owned by one opened device, tuned for decode: ~150 split ops per
// token, each a few hundred microseconds, with small serial work in between.
//  - parallel_for cuts a range into a few contiguous chunks per thread, and every thread, the
//    caller included, claims the next chunk from a shared counter until none is left. A worker
//    that wakes late (or is descheduled by another process) leaves its share to the others
//    instead of making the caller wait for a fixed half.
//  - The caller waits only for workers that actually took part: one that arrives after the last
//    chunk was claimed finds the job closed and never touches it.
//  - Workers poll for a short while after each job before sleeping on a condition variable, so
//    the next op of a token normally starts without a futex wake-up; the caller notifies only
//    when some worker is asleep. Polling is a few pauses, then sched_yield: on an idle core a
//    yield returns at once, and on a busy machine (other processes on a 2-core VM) it hands the
//    core to whoever needs it instead of burning it (A/B on a 2-vCPU VM with two compile jobs
//    running, tg at -t 2: pause-only polling ~20% slower than a condvar pool, yielding equal or
//    better).
// Which chunk runs on which thread changes from call to call, so a chunk's result must depend
// only on its range (every kernel's does: each output element is computed the same way whatever
// the split), never on the thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::backend_cpu {

// What the pool reports while profiling (see op_profile.hpp).
struct PoolStats {
  std::atomic<uint64_t> dispatches{0};      // parallel_for calls that offered work to workers
  std::atomic<uint64_t> caller_wait_ns{0};  // caller, after the last chunk was claimed
  std::atomic<uint64_t> chunks{0};          // chunks of those calls
  std::atomic<uint64_t> worker_chunks{0};   // ... of them run by workers
  std::atomic<uint64_t> worker_joins{0};    // workers that took part in a call
  std::atomic<uint64_t> worker_join_ns{0};  // dispatch -> a worker taking part
  std::atomic<uint64_t> worker_sleeps{0};   // times a worker stopped spinning and slept
};

class ThreadPool {
 public:
  // n_threads counts the calling thread; at least 1.
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs fn(begin, end) over [0, n) in contiguous chunks of at least `grain` items each (so
  // small jobs stay on the calling thread), at most kChunksPerThread * size() of them. Returns
  // when every chunk is done; rethrows the first exception a chunk threw. Calls from several
  // threads are serialised.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Profiling: when set (before any parallel_for), the pool adds what it sees to *stats, which
  // must outlive the pool. Null (the default) measures nothing.
  void set_stats(PoolStats* stats) { stats_ = stats; }

  static constexpr int64_t kChunksPerThread = 4;
  // How long an idle worker keeps polling for the next job before it sleeps: longer than the
  // serial work between two split ops of a decode step, short enough not to hold a core long
  // after generation stops.
  static constexpr std::chrono::microseconds kSpin{200};

 private:
  struct Job {
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
    std::chrono::steady_clock::time_point dispatched{};
  };
  void worker_loop();
  // Claims and runs chunks of job_ until none is left; returns how many this thread ran.
  int64_t run_chunks() noexcept;
  // Spins, then sleeps, until generation_ differs from `seen` or the pool stops.
  uint64_t wait_for_job(uint64_t seen);

  std::mutex call_mutex_;  // one parallel_for at a time
  Job job_;                // written only while generation_ is even (no open job)
  // Odd while a job is open to workers; each parallel_for moves it by 2 (open, then closed).
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<int> active_{0};  // workers inside the open job
  std::atomic<bool> stopping_{false};

  std::mutex sleep_mutex_;  // guards the sleep/wake hand-over below
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};

  std::mutex error_mutex_;
  std::exception_ptr error_;

  PoolStats* stats_ = nullptr;
  std::vector<std::thread> workers_;
};

}  // namespace hearth::backend_cpu

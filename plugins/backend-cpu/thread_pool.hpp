// A small persistent thread pool owned by one opened device. parallel_for splits a range into
// contiguous chunks, one per thread; the calling thread runs the first chunk itself, so a pool
// of size 1 has no worker threads at all. Workers sleep on a condition variable between calls.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth::backend_cpu {

class ThreadPool {
 public:
  // n_threads counts the calling thread; at least 1.
  explicit ThreadPool(unsigned n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs fn(begin, end) over [0, n) in at most size() contiguous chunks of at least `grain`
  // items each (so small jobs stay on the calling thread). Returns when every chunk is done;
  // rethrows the first exception a chunk threw. Calls from several threads are serialised.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  struct Job {
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0;
    int64_t chunks = 0;
  };
  void worker_loop(unsigned index);
  void run_chunk(const Job& job, int64_t chunk) noexcept;

  std::mutex call_mutex_;  // one parallel_for at a time
  std::mutex mutex_;       // guards everything below
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  Job job_;
  uint64_t generation_ = 0;
  unsigned pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> workers_;
};

}  // namespace hearth::backend_cpu

#include "thread_pool.hpp"

#include <algorithm>

namespace hearth::backend_cpu {

ThreadPool::ThreadPool(unsigned n_threads) {
  const unsigned n_workers = n_threads > 1 ? n_threads - 1 : 0;
  workers_.reserve(n_workers);
  try {
    for (unsigned i = 0; i < n_workers; ++i)
      workers_.emplace_back([this, i] { worker_loop(i + 1); });
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_ready_.notify_all();
    for (auto& w : workers_) w.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_chunk(const Job& job, int64_t chunk) noexcept {
  if (chunk >= job.chunks) return;
  const int64_t begin = job.n * chunk / job.chunks;
  const int64_t end = job.n * (chunk + 1) / job.chunks;
  try {
    (*job.fn)(begin, end);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_loop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      job = job_;
    }
    run_chunk(job, index);
    std::lock_guard lock(mutex_);
    if (--pending_ == 0) work_done_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t max_chunks = (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(size(), max_chunks);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard call(call_mutex_);
  Job job{&fn, n, chunks};
  {
    std::lock_guard lock(mutex_);
    job_ = job;
    error_ = nullptr;
    pending_ = static_cast<unsigned>(workers_.size());
    ++generation_;
  }
  work_ready_.notify_all();
  run_chunk(job, 0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    work_done_.wait(lock, [&] { return pending_ == 0; });
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace hearth::backend_cpu

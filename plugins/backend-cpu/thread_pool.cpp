#include "thread_pool.hpp"

#include <algorithm>

namespace hearth::backend_cpu {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kPausesBeforeYield = 256;

// A hint to the core that this thread is spinning (lets the sibling hyper-thread run).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

uint64_t nanoseconds_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace

ThreadPool::ThreadPool(unsigned n_threads) {
  const unsigned n_workers = n_threads > 1 ? n_threads - 1 : 0;
  workers_.reserve(n_workers);
  try {
    for (unsigned i = 0; i < n_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    stopping_.store(true);
    { std::lock_guard lock(sleep_mutex_); }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  stopping_.store(true);
  {
    // Taking the mutex orders the store before any worker's check-then-wait.
    std::lock_guard lock(sleep_mutex_);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

int64_t ThreadPool::run_chunks() noexcept {
  int64_t ran = 0;
  for (;;) {
    const int64_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= job_.chunks) return ran;
    const int64_t begin = job_.n * chunk / job_.chunks;
    const int64_t end = job_.n * (chunk + 1) / job_.chunks;
    try {
      (*job_.fn)(begin, end);
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    ++ran;
  }
}

uint64_t ThreadPool::wait_for_job(uint64_t seen) {
  const auto deadline = Clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (generation != seen || stopping_.load(std::memory_order_relaxed)) return generation;
    // A few pauses, then yields: on an idle core a yield returns at once (still no sleep), and
    // when other threads want the core (a busy machine, or this pool's own caller) they get it.
    if (i < kPausesBeforeYield) {
      cpu_relax();
    } else {
      std::this_thread::yield();
      if (Clock::now() >= deadline) break;
    }
  }
  std::unique_lock lock(sleep_mutex_);
  // Announce the sleep before the last look at generation_; parallel_for publishes a job before
  // it looks at sleepers_, so one of the two sees the other (both are sequentially consistent).
  sleepers_.fetch_add(1);
  if (stats_) stats_->worker_sleeps.fetch_add(1, std::memory_order_relaxed);
  wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
  sleepers_.fetch_sub(1);
  return generation_.load();
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    const uint64_t generation = wait_for_job(seen);
    if (stopping_.load()) return;
    seen = generation;
    if (generation % 2 == 0) continue;  // that job closed before this worker looked
    // Join, then make sure the job is still open: parallel_for closes it before it reads
    // active_, so either it waits for this worker or this worker sees it closed and leaves
    // job_ alone (job_ may already describe the next call).
    active_.fetch_add(1);
    if (generation_.load() == generation) {
      if (stats_) {
        stats_->worker_joins.fetch_add(1, std::memory_order_relaxed);
        stats_->worker_join_ns.fetch_add(nanoseconds_since(job_.dispatched),
                                         std::memory_order_relaxed);
      }
      const int64_t ran = run_chunks();
      if (stats_)
        stats_->worker_chunks.fetch_add(static_cast<uint64_t>(ran), std::memory_order_relaxed);
    }
    active_.fetch_sub(1, std::memory_order_release);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = n / grain + (n % grain != 0 ? 1 : 0);
  const int64_t chunks =
      std::min<int64_t>(static_cast<int64_t>(size()) * kChunksPerThread, max_chunks);
  if (size() == 1 || chunks <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard call(call_mutex_);
  job_ = Job{&fn, n, chunks, stats_ ? Clock::now() : Clock::time_point{}};
  next_chunk_.store(0, std::memory_order_relaxed);
  const uint64_t open = generation_.load(std::memory_order_relaxed) + 1;
  generation_.store(open);
  if (sleepers_.load() > 0) {
    {
      // A worker between its last look at generation_ and its wait holds this mutex, so taking
      // it here means the notify cannot fall into that gap.
      std::lock_guard lock(sleep_mutex_);
    }
    wake_.notify_all();
  }
  run_chunks();
  const auto wait_start = stats_ ? Clock::now() : Clock::time_point{};
  generation_.store(open + 1);  // closed: late workers stay out
  for (unsigned i = 1; active_.load() != 0; ++i) {
    // A worker still inside its last chunk. If it is not done after a few pauses it may have
    // been descheduled: yield so it (or whoever needs the core) can run.
    if (i < kPausesBeforeYield)
      cpu_relax();
    else
      std::this_thread::yield();
  }
  if (stats_) {
    stats_->dispatches.fetch_add(1, std::memory_order_relaxed);
    stats_->chunks.fetch_add(static_cast<uint64_t>(chunks), std::memory_order_relaxed);
    stats_->caller_wait_ns.fetch_add(nanoseconds_since(wait_start), std::memory_order_relaxed);
  }
  std::exception_ptr error;
  {
    std::lock_guard lock(error_mutex_);
    std::swap(error, error_);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace hearth::backend_cpu

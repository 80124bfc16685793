// The cpu device's thread pool (dynamic chunks, spin-then-sleep workers) and its op profile,
// tested directly: every item runs exactly once whatever the thread count, small jobs stay on
// the caller, errors come back, sleeping workers are woken, several host threads can share it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "op_profile.hpp"
#include "thread_pool.hpp"

namespace hearth::backend_cpu {
namespace {

using ::testing::HasSubstr;

TEST(ThreadPool, RunsEveryItemExactlyOnceInContiguousChunks) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 64, 1000, 4099}) {
      for (int64_t grain : {1, 3, 100}) {
        SCOPED_TRACE(std::to_string(threads) + " threads, n " + std::to_string(n) + ", grain " +
                     std::to_string(grain));
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int64_t> calls{0};
        pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
          EXPECT_LT(begin, end);
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
          calls.fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
        EXPECT_LE(calls.load(), static_cast<int64_t>(threads) * ThreadPool::kChunksPerThread);
        EXPECT_LE(calls.load(), (n + grain - 1) / grain);
      }
    }
  }
}

TEST(ThreadPool, SmallJobsStayOnTheCallingThread) {
  ThreadPool pool(4);
  std::set<std::thread::id> ran_on;
  int calls = 0;
  pool.parallel_for(10, 10, [&](int64_t begin, int64_t end) {
    ran_on.insert(std::this_thread::get_id());
    ++calls;
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::set<std::thread::id>{std::this_thread::get_id()});
  pool.parallel_for(0, 1, [&](int64_t, int64_t) { ADD_FAILURE() << "nothing to run"; });
}

TEST(ThreadPool, RethrowsAChunksExceptionAndKeepsWorking) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(100, 1,
                                 [](int64_t begin, int64_t) {
                                   if (begin == 0) throw std::runtime_error("chunk 0 failed");
                                 }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t begin, int64_t end) { sum.fetch_add(end - begin); });
  EXPECT_EQ(sum.load(), 100);
}

// Back-to-back calls (workers still spinning), then pauses long enough for them to fall asleep:
// no call may lose its wake-up or run a chunk twice.
TEST(ThreadPool, WakesWorkersThatFellAsleep) {
  ThreadPool pool(3);
  PoolStats stats;
  pool.set_stats(&stats);
  int64_t expected = 0;
  std::atomic<int64_t> sum{0};
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 300; ++i) {
      pool.parallel_for(64, 1, [&](int64_t begin, int64_t end) {
        for (int64_t k = begin; k < end; ++k) sum.fetch_add(k);
      });
      expected += 64 * 63 / 2;
    }
    std::this_thread::sleep_for(ThreadPool::kSpin * 5);
  }
  EXPECT_EQ(sum.load(), expected);
  EXPECT_EQ(stats.dispatches.load(), 1800u);
  EXPECT_EQ(stats.chunks.load(), 1800u * 3 * ThreadPool::kChunksPerThread);
  EXPECT_LE(stats.worker_chunks.load(), stats.chunks.load());
  EXPECT_GE(stats.worker_sleeps.load(), 2u);  // each worker slept in the pauses at least once
}

TEST(ThreadPool, SeveralHostThreadsCanShareIt) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  auto work = [&] {
    for (int i = 0; i < 200; ++i)
      pool.parallel_for(50, 1, [&](int64_t begin, int64_t end) { total.fetch_add(end - begin); });
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(total.load(), 2 * 200 * 50);
}

hearth_op op_of(uint32_t kind, hearth_dtype dtype, int64_t tokens) {
  hearth_op op{};
  op.kind = static_cast<hearth_op_kind>(kind);
  op.n_src = 2;
  op.src[0].dtype = dtype;
  op.src[0].ne[0] = 64;
  op.src[0].ne[1] = kind == HEARTH_OP_MATMUL ? 32 : tokens;
  op.src[0].ne[2] = op.src[0].ne[3] = 1;
  op.src[1].dtype = HEARTH_DTYPE_F32;
  op.src[1].ne[0] = 64;
  op.src[1].ne[1] = tokens;
  op.src[1].ne[2] = op.src[1].ne[3] = 1;
  op.dst = op.src[1];
  return op;
}

TEST(OpProfile, SumsOpsPerKindAndDtypeAndCountsDecodeSteps) {
  OpProfile profile;
  const auto t0 = OpProfile::Clock::now();
  using std::chrono::microseconds;
  // A 2-token prompt step, then two decode steps of a norm and a Q4_0 matmul each.
  profile.record(op_of(HEARTH_OP_MATMUL, HEARTH_DTYPE_Q4_0, 2), t0, t0 + microseconds(500), 0);
  profile.record_step_end(t0 + microseconds(510));
  for (int step = 0; step < 2; ++step) {
    const auto s = t0 + microseconds(1000 * (step + 1));
    profile.record(op_of(HEARTH_OP_RMS_NORM, HEARTH_DTYPE_F32, 1), s, s + microseconds(10), 10000);
    profile.record(op_of(HEARTH_OP_MATMUL, HEARTH_DTYPE_Q4_0, 1), s + microseconds(12),
                   s + microseconds(312), 300000);
    profile.record_step_end(s + microseconds(320));
  }
  EXPECT_EQ(profile.decode_tokens(), 2u);
  PoolStats pool;
  const std::string table = profile.table(pool);
  EXPECT_THAT(table, HasSubstr("2 decode tokens"));
  // 2 calls, 0.6 ms in all, 0.3 ms per token (wall and CPU), 300 us per call.
  EXPECT_THAT(table, ::testing::ContainsRegex(
                         "MATMUL \\(Q4_0\\) +decode +2 +0\\.600 +0\\.300 +0\\.300 +300\\.00"));
  EXPECT_THAT(table, ::testing::ContainsRegex("MATMUL \\(Q4_0\\) +prompt +1 +0\\.500"));
  EXPECT_THAT(table, ::testing::ContainsRegex("RMS_NORM \\(F32\\) +decode +2 +0\\.020 +0\\.010"));
  // Between ops inside a step: 2 us after each norm plus 8 us before each logits copy.
  EXPECT_THAT(table, ::testing::ContainsRegex("outside: between ops +decode +4 +0\\.020 +0\\.010"));
  // The first decode step starts 490 us after the prompt's logits copy, the second 680 us after
  // the first's: the logits copy to the next step.
  EXPECT_THAT(
      table, ::testing::ContainsRegex("outside: logits to next step +decode +2 +1\\.170 +0\\.585"));
}

TEST(OpProfile, TakesWeightCopiesOutOfTheOpThatMadeThem) {
  OpProfile profile;
  const auto t0 = OpProfile::Clock::now();
  using std::chrono::microseconds;
  profile.record_weight_copy(microseconds(4000), 3000000);
  profile.record(op_of(HEARTH_OP_MATMUL, HEARTH_DTYPE_Q8_0, 1), t0, t0 + microseconds(4300),
                 3200000);
  profile.record_step_end(t0 + microseconds(4301));
  PoolStats pool;
  const std::string table = profile.table(pool);
  EXPECT_THAT(table,
              ::testing::ContainsRegex("MATMUL \\(Q8_0\\) +decode +1 +0\\.300 +0\\.300 +0\\.200"));
  EXPECT_THAT(table, ::testing::ContainsRegex("weight copies \\(first use\\) +any +1 +4\\.000"));
}

}  // namespace
}  // namespace hearth::backend_cpu

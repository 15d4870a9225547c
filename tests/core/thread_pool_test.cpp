#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

using g4::ThreadPool;

TEST(ThreadPool, RunsEveryThreadOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(3);
  for (int rep = 0; rep < 300; ++rep)
    pool.run([&](int i, int n) {
      EXPECT_EQ(n, 3);
      hits[size_t(i)]++;
    });
  for (auto& h : hits) EXPECT_EQ(h.load(), 300);
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  ThreadPool pool(2);
  for (size_t n : {1, 2, 7, 100, 1001}) {
    for (size_t grain : {1, 4, 16}) {
      std::vector<std::atomic<int>> seen(n);
      pool.parallel_for(n, [&](size_t b, size_t e) {
        EXPECT_TRUE(b == 0 || b % grain == 0);
        for (size_t i = b; i < e; ++i) seen[i]++;
      }, grain);
      for (auto& s : seen) ASSERT_EQ(s.load(), 1);
    }
  }
}

TEST(ThreadPool, ManySmallJobsBackToBack) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 2000; ++rep) pool.parallel_for(2, [&](size_t b, size_t e) { sum += long(e - b); });
  EXPECT_EQ(sum.load(), 4000);
}

TEST(ThreadPool, WakesAfterSleeping) {
  ThreadPool pool(2);
  std::atomic<int> n{0};
  pool.run([&](int, int) { n++; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin budget: workers sleep
  pool.run([&](int, int) { n++; });
  EXPECT_EQ(n.load(), 4);
}

TEST(ThreadPool, NestedRunExecutesInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.run([&](int, int) { pool.run([&](int i, int n) { EXPECT_EQ(i, 0); EXPECT_EQ(n, 1); inner++; }); });
  EXPECT_EQ(inner.load(), 2);
}

TEST(ThreadPool, ExceptionsPropagateToCaller) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run([&](int i, int) { if (i == 1) throw std::runtime_error("worker"); }), std::runtime_error);
  EXPECT_THROW(pool.run([&](int i, int) { if (i == 0) throw std::runtime_error("caller"); }), std::runtime_error);
  std::atomic<int> n{0};
  pool.run([&](int, int) { n++; });  // still usable
  EXPECT_EQ(n.load(), 2);
}

TEST(ThreadPool, SingleThreadPool) {
  ThreadPool pool(1);
  int calls = 0;
  pool.parallel_for(10, [&](size_t b, size_t e) { calls++; EXPECT_EQ(b, 0u); EXPECT_EQ(e, 10u); });
  EXPECT_EQ(calls, 1);
}

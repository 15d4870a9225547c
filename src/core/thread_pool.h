#pragma once
// A fixed pool of worker threads for data-parallel loops. parallel_for splits [0, n) into one
// contiguous chunk per thread, so each worker streams its own slice of a weight matrix.
//
// Hand-off is spin-then-sleep: between jobs a worker spins on an atomic generation counter for a short
// while (a decode step issues hundreds of small matmuls back to back) and only then sleeps on a futex
// (C++20 atomic wait), so a busy loop of jobs costs no system calls. A job started from inside a job of
// the same pool runs inline on the calling thread.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace g4 {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on every thread (the caller is thread 0) and waits. An exception
  // thrown by fn on any thread is rethrown here after all threads finished.
  void run(const std::function<void(int, int)>& fn);

  // Runs fn(begin, end) over [0, n) split into contiguous chunks, rounded to multiples of `grain`.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t grain = 1);

  // The process-wide pool (sized by set_default_threads, else the number of online CPUs).
  static ThreadPool& global();
  static void set_default_threads(int n);

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex run_mu_;  // one job at a time when several outside threads share the pool
  const std::function<void(int, int)>* job_ = nullptr;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
};

}  // namespace g4

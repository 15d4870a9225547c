#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace g4 {

namespace {

// A short stall inside a spin loop (not a system call: the loop checks its condition 64 times between
// clock reads). On ARM64, isb rather than the yield hint, which most cores execute as a no-op.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("isb" ::: "memory");
#else
  std::this_thread::yield();
#endif
}

// How long a thread spins before sleeping, in microseconds; after kPauseMicros it yields between checks
// so that, on an oversubscribed machine, the thread it waits for can run.
constexpr int64_t kSpinMicros = 200, kPauseMicros = 30;

// Spins until pred() holds or the spin budget is used up; returns pred().
template <class Pred>
bool spin_until(Pred pred) {
  if (pred()) return true;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited > std::chrono::microseconds(kSpinMicros)) return pred();
    if (waited > std::chrono::microseconds(kPauseMicros)) std::this_thread::yield();
  }
}

thread_local const ThreadPool* t_running_in = nullptr;  // pool whose job this thread is executing

// The stores that a sleeping thread waits for (generation_ for the workers, pending_ for the caller) are
// sequentially consistent, not merely release. notify_one/notify_all make no system call when no thread
// is registered as waiting on the address (libstdc++ counts waiters in a seq_cst table, then sleeps on a
// futex); that test is the store-buffering pattern "store value, load waiter count" against "store
// waiter count, load value", which only seq_cst on both sides forbids from ending with each side reading
// the other's old value: the notifier seeing no waiter and the waiter seeing the old value, asleep for
// ever. A release store followed by a seq_cst load happens to be ordered on x86-64 and ARMv8 (stlr; ldar),
// not on every architecture the C++ model covers; the seq_cst read-modify-write costs the same there.

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  t_running_in = this;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
      uint32_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) generation_.wait(g);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    try {
      (*job_)(index, n_threads_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
    }
    if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1) pending_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1 || t_running_in == this) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> lock(run_mu_);
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();  // no system call unless a worker is asleep
  t_running_in = this;
  std::exception_ptr caller_error;
  try {
    fn(0, n_threads_);
  } catch (...) {
    caller_error = std::current_exception();
  }
  t_running_in = nullptr;
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    int p;
    while ((p = pending_.load(std::memory_order_acquire)) != 0) pending_.wait(p);
  }
  job_ = nullptr;
  std::exception_ptr worker_error;
  {
    std::lock_guard<std::mutex> elock(error_mu_);
    std::swap(worker_error, error_);
  }
  if (caller_error) std::rethrow_exception(caller_error);
  if (worker_error) std::rethrow_exception(worker_error);
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn, size_t grain) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  size_t units = (n + grain - 1) / grain;
  int workers = int(std::min<size_t>(units, size_t(n_threads_)));
  if (workers <= 1 || t_running_in == this) {
    fn(0, n);
    return;
  }
  run([&](int t, int) {
    if (t >= workers) return;
    size_t u0 = units * size_t(t) / size_t(workers), u1 = units * size_t(t + 1) / size_t(workers);
    size_t b = std::min(n, u0 * grain), e = std::min(n, u1 * grain);
    if (b < e) fn(b, e);
  });
}

namespace {
int g_default_threads = 0;
}

void ThreadPool::set_default_threads(int n) { g_default_threads = n; }

ThreadPool& ThreadPool::global() {
  static std::unique_ptr<ThreadPool> pool = [] {
    int n = g_default_threads > 0 ? g_default_threads : int(std::thread::hardware_concurrency());
    return std::make_unique<ThreadPool>(n);
  }();
  return *pool;
}

}  // namespace g4

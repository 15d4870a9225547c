#pragma once
// The threads that run HTTP handlers. Handlers block (a streamed generation holds its thread for as
// long as it runs), so they must not run on the I/O thread; the pool is bounded in threads and in
// waiting jobs so that a flood of requests costs a 503, not unbounded threads or memory.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace g4::server {

class HandlerPool {
 public:
  // Up to max_threads threads (started when work arrives and none is free) and max_queued jobs waiting.
  HandlerPool(int max_threads, int max_queued);
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues a job; false (and the job is not kept) when every thread is busy and the queue is full,
  // or the pool is stopped. Never blocks.
  bool try_submit(std::function<void()> job);
  // Waits until no job runs or waits, for at most `timeout`. True when idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Runs the jobs still queued, then joins every thread. Later submissions are refused.
  void stop();

  int threads() const;
  int outstanding() const;  // running + queued

 private:
  void worker();

  const int max_threads_, max_queued_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int running_ = 0;
  bool stopping_ = false;
};

}  // namespace g4::server

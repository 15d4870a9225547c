#include "server/http_pool.h"

#include <algorithm>

namespace g4::server {

HandlerPool::HandlerPool(int max_threads, int max_queued)
    : max_threads_(std::max(1, max_threads)), max_queued_(std::max(0, max_queued)) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::try_submit(std::function<void()> job) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) return false;
  const int outstanding = running_ + int(queue_.size());
  if (outstanding >= max_threads_ + max_queued_) return false;
  queue_.push_back(std::move(job));
  // A thread that runs no job is idle or about to look at the queue again, so as long as there are at
  // least as many threads as jobs (up to the maximum), every job has a thread coming for it.
  if (int(threads_.size()) < max_threads_ && int(threads_.size()) < outstanding + 1) threads_.emplace_back([this] { worker(); });
  work_cv_.notify_one();
  return true;
}

void HandlerPool::worker() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and nothing left to run
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lk.unlock();
    try {
      job();
    } catch (...) {
      // A job reports its own errors; one that escapes must not take the thread (and the process) down.
    }
    job = nullptr;  // release what the job holds before the pool counts it finished
    lk.lock();
    --running_;
    if (running_ == 0 && queue_.empty()) idle_cv_.notify_all();
  }
}

bool HandlerPool::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  return idle_cv_.wait_for(lk, timeout, [this] { return running_ == 0 && queue_.empty(); });
}

void HandlerPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  work_cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

int HandlerPool::threads() const {
  std::lock_guard<std::mutex> lk(mu_);
  return int(threads_.size());
}

int HandlerPool::outstanding() const {
  std::lock_guard<std::mutex> lk(mu_);
  return running_ + int(queue_.size());
}

}  // namespace g4::server

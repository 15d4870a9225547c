#pragma once
// The engine: one thread owns the model and runs continuous batching.
//
// Each step builds one batch: the next token of every running sequence (one decode token each) plus
// prefill chunks of sequences that are still reading their prompt (at most `prefill_chunk` prompt
// tokens per step in all), so new requests join without stalling the ones already generating. After
// the forward pass every sequence that produced logits samples its own next token (its own sampler,
// penalties and constraint), its answer stream turns the token into text deltas, and the deltas go to
// the request's channel.
//
// KV memory: `parallel` slots, each a KVCache of `ctx` tokens. A finished sequence leaves its tokens in
// its slot; a new request takes the free slot that shares the longest prefix with its prompt and only
// prefills the rest (runtime/SequenceCache: the prefix reuse `chat` uses too; past a sliding-window ring,
// back to the checkpoint taken where the last answer began, else a fresh prefill).
//
// Context full: a prompt that does not fit the context (with room for one token) is refused at submit();
// an answer that reaches the end of the context ends with finish reason "length", as OpenAI reports it.
// A batch whose forward pass fails is run again one sequence at a time, so only the failing one ends. Requests beyond the free slots wait in a bounded queue; past `max_queue` waiting,
// submit() throws QueueFull. A channel's cancel() (client gone) ends its sequence at the next step.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"
#include "runtime/media_input.h"
#include "runtime/chat.h"
#include "runtime/sampler.h"
#include "runtime/speculative.h"
#include "runtime/stop.h"
#include "text/tokenizer.h"

namespace g4::server {

// Restricts which tokens may come next (constrained decoding).
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Fills `mask` (vocab size) with 1 for allowed tokens. Returns false when every token is allowed.
  virtual bool allowed(std::vector<uint8_t>& mask) = 0;
  // The token that was chosen.
  virtual void accept(int32_t token) = 0;
};

struct SeqRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  StopConfig stop;                  // EOG ids, stop strings, max_tokens (< 0: until the context is full)
  bool start_in_reasoning = false;  // the prompt opened the thought channel
  std::unique_ptr<TokenConstraint> constraint;  // optional
  // n > 1: n sequences (choices 0..n-1) over the same prompt, reporting through one channel. The prompt
  // is prefilled once: when choice 0 has read it, the waiting choices start from a copy of its KV cache
  // and its last logits. Choice i samples with seed + i; `extra_constraints` holds the constraints of
  // choices 1..n-1 when `constraint` is set (each choice needs its own state).
  int n = 1;
  std::vector<std::unique_ptr<TokenConstraint>> extra_constraints;
  // >= 0: report every generated token's log-probability under the model (log-softmax of the logits
  // before any sampling transform) and this many most likely alternatives. End-of-generation tokens are
  // not reported.
  int logprobs = -1;
  // Media (images, audio) in the prompt: its soft tokens, and the prefix-cache key (content-derived ids
  // in place of placeholders). Null for text prompts.
  std::shared_ptr<const MediaPrompt> media;
};

struct TokenLogprobs {
  int32_t id = 0;
  float logprob = 0;
  std::vector<TokenLogprob> top;  // most likely first
};

struct SeqEvent {
  int index = 0;              // the choice
  AnswerStream::Delta delta;  // text / reasoning / content / tool calls
  std::vector<TokenLogprobs> logprobs;  // tokens generated since the last event (SeqRequest::logprobs)
  bool done = false;
  std::string finish_reason;  // when done: "stop", "length", "cancelled", "error"
  std::string error;          // when finish_reason == "error"
  int prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
};

// The channel between the engine and one HTTP request (all of its choices).
class SeqChannel {
 public:
  // Moves pending events into `out`; waits up to `timeout` when there are none. Returns true when
  // events were received.
  bool wait(std::vector<SeqEvent>& out, std::chrono::milliseconds timeout);
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_.load(); }

  void push(SeqEvent e);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SeqEvent> events_;
  std::atomic<bool> cancelled_{false};
};

class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("the server is busy: too many requests are waiting; retry later") {}
};

struct SchedulerOptions {
  int parallel = 4;          // KV slots = sequences decoded together
  int64_t ctx = 4096;        // tokens per slot
  int max_queue = 64;        // requests waiting for a slot before submit() refuses
  int prefill_chunk = 256;   // prompt tokens per step (all prefilling sequences together)
  bool batching = true;      // false: every sequence gets its own forward pass (for comparison)
  KVTypes kv_type;               // storage of every slot's KV cache (keys, values)
  int checkpoints = 2;       // sliding-window checkpoints per slot (prefix reuse past a ring; see KVCache)
  // Speculative decoding: each generating sequence verifies up to draft_max drafted tokens per step
  // (runtime/speculative.h); the source must outlive the scheduler. nullptr: one token per step.
  DraftSource* drafts = nullptr;
  int draft_max = 0;
};

struct SchedulerStats {
  int64_t requests_finished = 0, requests_cancelled = 0, requests_failed = 0;
  int64_t prompt_tokens = 0;         // prompt tokens of admitted requests
  int64_t prompt_tokens_cached = 0;  // of those, reused from the prefix cache
  int64_t prompt_tokens_computed = 0;
  int64_t generated_tokens = 0;
  int64_t forward_passes = 0;
  int64_t batch_tokens = 0;          // tokens through forward passes
  int queued = 0, running = 0;
  int64_t kv_tokens_used = 0;        // tokens held in all slots (busy or cached)
  int64_t kv_tokens_capacity = 0;    // parallel * ctx
  int64_t kv_bytes = 0;
  int slots_busy = 0, slots_total = 0;
  double generation_tokens_per_second = 0;  // over the last 10 seconds
  double prompt_tokens_per_second = 0;      // computed prompt tokens, last 10 seconds
  double busy_seconds = 0;                  // engine time spent in steps
  int64_t drafted_tokens = 0, accepted_tokens = 0;  // speculative decoding
};

class Scheduler {
 public:
  Scheduler(const Model& model, std::shared_ptr<const Tokenizer> tokenizer, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (its n sequences); throws QueueFull when the queue cannot take them all and
  // g4::Error for an invalid request (empty prompt, prompt not shorter than the context).
  std::shared_ptr<SeqChannel> submit(SeqRequest request);
  SchedulerStats stats() const;
  const SchedulerOptions& options() const { return opt_; }
  void stop();

 private:
  struct Seq;
  struct Slot;
  struct Group;
  void loop();
  bool step();  // returns false when there was nothing to do
  void admit();
  void finish(Seq& s, const std::string& reason, const std::string& error = "");
  bool sample(Seq& s);  // true when a token was generated
  int verify(Seq& s, const BatchItem& item);  // samples a drafted step's rows; returns tokens generated
  void add_drafts(Seq& s, BatchItem& item);   // the pending token plus drafts, into item
  int fork_group(Seq& leader);  // starts the choices waiting for the leader's prompt; returns tokens generated
  void note_rate(std::deque<std::pair<double, int64_t>>& window, int64_t n, double now);

  const Model& model_;
  std::shared_ptr<const Tokenizer> tok_;
  SchedulerOptions opt_;
  int32_t vocab_ = 0;

  mutable std::mutex mu_;  // guards waiting_, stats_, stop_
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Seq>> waiting_;
  bool stop_ = false;
  SchedulerStats stats_;
  std::deque<std::pair<double, int64_t>> gen_window_, prompt_window_;

  // engine thread only
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<Seq>> running_;
  uint64_t use_counter_ = 0;
  std::thread thread_;
};

}  // namespace g4::server

#include "server/scheduler.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "runtime/sequence_cache.h"

namespace g4::server {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
constexpr double kRateWindow = 10.0;
}  // namespace

// ---- channel ----------------------------------------------------------------------------------

bool SeqChannel::wait(std::vector<SeqEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (events_.empty()) cv_.wait_for(lk, timeout, [this] { return !events_.empty(); });
  if (events_.empty()) return false;
  for (auto& e : events_) out.push_back(std::move(e));
  events_.clear();
  return true;
}

void SeqChannel::push(SeqEvent e) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

// ---- engine state -----------------------------------------------------------------------------

struct Scheduler::Slot {
  explicit Slot(std::unique_ptr<KVCache> cache) : seq(std::move(cache)) {}
  SequenceCache seq;  // the KV cache and exactly the tokens whose K/V it holds
  bool busy = false;
  uint64_t last_used = 0;
};

// The choices of an n > 1 request. Choice 0 (the leader) prefills the prompt; the others wait in the
// queue until it has, then start from a copy of its cache (fork_group).
struct Scheduler::Group {
  bool leader_prefilling = true;
};

struct Scheduler::Seq {
  std::shared_ptr<SeqChannel> channel;
  int index = 0;                 // the choice
  std::shared_ptr<Group> group;  // n > 1
  SeqRequest req;
  Slot* slot = nullptr;
  size_t n_fed = 0;  // prompt tokens in the cache
  int cached = 0;    // of those, reused from an earlier request
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<AnswerStream> answer;
  std::vector<int32_t> generated;
  int32_t pending = -1;  // sampled, not yet fed
  std::vector<float> logits;
  std::vector<float> raw_logits;          // the model's logits, kept for logprobs (the sampler edits `logits`)
  std::vector<TokenLogprobs> logprobs;    // generated since the last event
  std::vector<uint8_t> mask;
  bool done = false;
  // Speculative decoding: the target's hidden state at the cache's last position, what goes through the
  // next pass (the pending token, then the drafts), and that pass's logits and hidden states per row.
  std::vector<float> hidden, rows, hidden_rows;
  std::vector<int32_t> feed;
};

Scheduler::Scheduler(const Model& model, std::shared_ptr<const Tokenizer> tokenizer, SchedulerOptions options)
    : model_(model), tok_(std::move(tokenizer)), opt_(options) {
  check(opt_.parallel >= 1 && opt_.parallel <= 1024, "--parallel must be between 1 and 1024");
  check(opt_.ctx >= 16, "--ctx must be at least 16");
  check(opt_.max_queue >= 0, "the queue size must not be negative");
  check(opt_.prefill_chunk >= 1, "the prefill chunk must be at least 1 token");
  check(opt_.checkpoints >= 0 && opt_.checkpoints <= 64, "--ctx-checkpoints must be between 0 and 64");
  vocab_ = model_.config().vocab_size;
  // Room for a whole bidirectional image block in one pass (26B/31B with a vision tower).
  const int chunk = int(std::min<int64_t>(media_chunk_size(model_, opt_.prefill_chunk), opt_.ctx));
  for (int i = 0; i < opt_.parallel; ++i) {
    slots_.push_back(std::make_unique<Slot>(model_.new_cache(opt_.ctx, chunk, opt_.kv_type, opt_.checkpoints)));
  }
  stats_.slots_total = opt_.parallel;
  stats_.kv_tokens_capacity = int64_t(opt_.parallel) * opt_.ctx;
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<SeqChannel> Scheduler::submit(SeqRequest request) {
  if (request.prompt.empty()) throw Error("the prompt is empty");
  if (int64_t(request.prompt.size()) >= opt_.ctx)
    throw Error("the prompt has " + std::to_string(request.prompt.size()) + " tokens, which does not fit the context of " +
                std::to_string(opt_.ctx) + " tokens (with room for one generated token)");
  for (int32_t id : request.prompt)
    if (id < 0 || id >= vocab_) throw Error("token id " + std::to_string(id) + " is out of range");
  const int n = request.n;
  check(n >= 1 && n <= 1024, "the number of choices must be between 1 and 1024");
  check(request.extra_constraints.size() == (request.constraint ? size_t(n - 1) : 0),
        "a constrained request with n choices needs n constraints");
  check(request.logprobs <= 1000, "too many logprobs alternatives");
  auto ch = std::make_shared<SeqChannel>();
  auto group = n > 1 ? std::make_shared<Group>() : nullptr;
  std::shared_ptr<const Tokenizer> tok = tok_;
  Sampler::TokenText token_text = [tok](int32_t id) { return tok->token_bytes(id); };
  std::vector<std::unique_ptr<Seq>> seqs;
  for (int i = 0; i < n; ++i) {
    auto seq = std::make_unique<Seq>();
    seq->channel = ch;
    seq->index = i;
    seq->group = group;
    SamplingParams sp = request.sampling;
    sp.seed += uint64_t(i);
    seq->sampler = std::make_unique<Sampler>(sp, token_text);  // validates
    seq->answer = std::make_unique<AnswerStream>(*tok_, request.stop, request.start_in_reasoning);
    seq->req.prompt = request.prompt;
    seq->req.sampling = sp;
    seq->req.stop = request.stop;
    seq->req.start_in_reasoning = request.start_in_reasoning;
    seq->req.logprobs = request.logprobs;
    seq->req.media = request.media;  // soft tokens and cache keys (without them images would be read as placeholders)
    seq->req.constraint = i == 0 ? std::move(request.constraint)
                          : request.extra_constraints.empty() ? nullptr : std::move(request.extra_constraints[size_t(i - 1)]);
    seqs.push_back(std::move(seq));
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) throw QueueFull();
    int free_slots = opt_.parallel - stats_.slots_busy;
    if (int(waiting_.size()) + n > opt_.max_queue + std::max(0, free_slots)) throw QueueFull();
    for (auto& seq : seqs) waiting_.push_back(std::move(seq));
    stats_.queued = int(waiting_.size());
  }
  cv_.notify_all();
  return ch;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  SchedulerStats s = stats_;
  double now = now_seconds();
  auto rate = [&](const std::deque<std::pair<double, int64_t>>& w) {
    int64_t n = 0;
    for (auto& [t, k] : w)
      if (now - t <= kRateWindow) n += k;
    return double(n) / kRateWindow;
  };
  s.generation_tokens_per_second = rate(gen_window_);
  s.prompt_tokens_per_second = rate(prompt_window_);
  return s;
}

void Scheduler::note_rate(std::deque<std::pair<double, int64_t>>& w, int64_t n, double now) {
  if (n > 0) w.emplace_back(now, n);
  while (!w.empty() && now - w.front().first > kRateWindow) w.pop_front();
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (stop_) break;
      if (running_.empty() && waiting_.empty()) cv_.wait(lk, [this] { return stop_ || !waiting_.empty(); });
      if (stop_) break;
    }
    try {
      step();
    } catch (const std::exception& e) {
      // A failure outside a forward pass (should not happen): fail everything running, keep serving.
      std::fprintf(stderr, "scheduler error: %s\n", e.what());
      for (auto& s : running_)
        if (!s->done) finish(*s, "error", e.what());
      running_.clear();
    }
  }
  // Shutting down: end every request.
  std::deque<std::unique_ptr<Seq>> waiting;
  {
    std::lock_guard<std::mutex> lk(mu_);
    waiting.swap(waiting_);
  }
  for (auto& s : running_)
    if (!s->done) finish(*s, "error", "the server is shutting down");
  for (auto& s : waiting) finish(*s, "error", "the server is shutting down");
}

void Scheduler::finish(Seq& s, const std::string& reason, const std::string& error) {
  if (s.done) return;
  s.done = true;
  if (s.group && s.index == 0) s.group->leader_prefilling = false;  // the others prefill on their own
  SeqEvent e;
  if (reason != "cancelled" && reason != "error") {
    AnswerStream::Delta d = s.answer->finish();
    e.delta = std::move(d);
  }
  e.index = s.index;
  e.logprobs = std::move(s.logprobs);
  e.done = true;
  e.finish_reason = reason;
  e.error = error;
  e.prompt_tokens = int(s.req.prompt.size());
  e.cached_tokens = s.cached;
  e.completion_tokens = int(s.generated.size());
  s.channel->push(std::move(e));
  std::lock_guard<std::mutex> lk(mu_);
  if (s.slot) {
    --stats_.slots_busy;
    s.slot->busy = false;
    s.slot->last_used = ++use_counter_;
    if (reason == "error") s.slot->seq.clear();  // the cache may be inconsistent
    s.slot = nullptr;
  }
  if (reason == "cancelled") ++stats_.requests_cancelled;
  else if (reason == "error") ++stats_.requests_failed;
  else ++stats_.requests_finished;
}

void Scheduler::admit() {
  for (;;) {
    std::unique_ptr<Seq> seq;
    std::vector<std::unique_ptr<Seq>> dropped;
    {
      std::lock_guard<std::mutex> lk(mu_);
      // Requests cancelled before they started are dropped.
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if ((*it)->channel->cancelled()) {
          dropped.push_back(std::move(*it));
          it = waiting_.erase(it);
        } else {
          ++it;
        }
      }
      stats_.queued = int(waiting_.size());
      bool any_free = std::any_of(slots_.begin(), slots_.end(), [](auto& sl) { return !sl->busy; });
      // A choice of an n > 1 request waits (in order) until choice 0 has read the prompt.
      const bool follower_waits = !waiting_.empty() && waiting_.front()->group && waiting_.front()->index > 0 &&
                                  waiting_.front()->group->leader_prefilling;
      if (!waiting_.empty() && any_free && !follower_waits) {
        seq = std::move(waiting_.front());
        waiting_.pop_front();
        stats_.queued = int(waiting_.size());
        ++stats_.slots_busy;  // taken below; counted now so submit() sees it at once
      }
    }
    for (auto& d : dropped) finish(*d, "cancelled");
    if (!seq) return;
    // The free slot sharing the longest prefix; else the least recently used one.
    // Slots remember keys: content-derived ids in place of media placeholders.
    const std::vector<int32_t>& p = seq->req.media ? seq->req.media->cache_key : seq->req.prompt;
    Slot* best = nullptr;
    size_t best_len = 0;
    for (auto& sl : slots_) {
      if (sl->busy) continue;
      const size_t l = sl->seq.shared_prefix(p);
      if (!best || l > best_len || (l == best_len && sl->last_used < best->last_used)) {
        best = sl.get();
        best_len = l;
      }
    }
    // What the cache can keep: the shared prefix, or the sliding-window checkpoint before it.
    const size_t reuse = best->seq.reuse(p);
    best->busy = true;
    best->last_used = ++use_counter_;
    seq->slot = best;
    seq->n_fed = reuse;
    seq->cached = int(reuse);
    {
      std::lock_guard<std::mutex> lk(mu_);
      stats_.prompt_tokens += int64_t(p.size());
      stats_.prompt_tokens_cached += int64_t(reuse);
    }
    running_.push_back(std::move(seq));
  }
}

bool Scheduler::sample(Seq& s) {
  if (s.req.stop.max_tokens == 0) {
    finish(s, "length");
    return false;
  }
  const std::vector<uint8_t>* mask = nullptr;
  if (s.req.constraint && s.req.constraint->allowed(s.mask)) mask = &s.mask;
  // Logprobs describe the model's distribution: taken before the sampler edits the logits.
  TokenLogprobs lp;
  double lse = 0;
  if (s.req.logprobs >= 0) {
    lse = log_sum_exp(s.logits.data(), vocab_);
    lp.top = top_logprobs(s.logits.data(), vocab_, s.req.logprobs, lse);
    s.raw_logits.assign(s.logits.begin(), s.logits.end());
  }
  int32_t tok;
  try {
    tok = s.sampler->sample(s.logits.data(), vocab_, s.generated, mask);
  } catch (const Error& e) {
    finish(s, "error", e.what());
    return false;
  }
  s.generated.push_back(tok);
  if (s.req.constraint) s.req.constraint->accept(tok);
  if (s.req.logprobs >= 0 &&
      std::find(s.req.stop.eog_ids.begin(), s.req.stop.eog_ids.end(), tok) == s.req.stop.eog_ids.end()) {
    lp.id = tok;
    lp.logprob = float(double(s.raw_logits[size_t(tok)]) - lse);
    s.logprobs.push_back(std::move(lp));
  }
  AnswerStream::Delta d = s.answer->push(tok);
  bool stop = d.stop;
  if (!d.text.empty() || !d.tool_calls.empty() || !d.content.empty() || !d.reasoning.empty()) {
    SeqEvent e;
    e.index = s.index;
    e.delta = std::move(d);
    e.delta.stop = false;
    e.logprobs = std::move(s.logprobs);
    s.logprobs.clear();
    s.channel->push(std::move(e));
  }
  if (stop) {
    finish(s, s.answer->reason() == StopReason::MaxTokens ? "length" : "stop");
    return true;
  }
  s.pending = tok;
  return true;
}

void Scheduler::add_drafts(Seq& s, BatchItem& it) {
  const KVCache& cache = s.slot->seq.cache();
  it.hidden = &s.hidden;
  if (s.hidden.size() != size_t(model_.config().hidden_size)) return;
  // At most: the budget left (a draft past it would be thrown away), the context, one chunk with room
  // for the drafter's window after rolling back (see Decoder::next).
  int64_t k = std::min<int64_t>({int64_t(opt_.draft_max), opt_.ctx - cache.n_past() - 1, int64_t(cache.max_chunk()) - 2});
  if (s.req.stop.max_tokens >= 0) k = std::min<int64_t>(k, int64_t(s.req.stop.max_tokens) - int64_t(s.generated.size()) - 1);
  if (k <= 0) return;
  std::vector<int32_t> drafts;
  try {
    drafts = opt_.drafts->propose(cache, s.generated, s.hidden, int(k));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scheduler: drafting failed (%s); decoding without drafts\n", e.what());
    return;
  }
  if (drafts.size() > size_t(k)) drafts.resize(size_t(k));
  for (int32_t d : drafts)
    if (d < 0 || d >= vocab_) return;
  if (drafts.empty()) return;
  s.feed.assign(1, s.pending);
  s.feed.insert(s.feed.end(), drafts.begin(), drafts.end());
  it.ids = s.feed.data();
  it.n_tokens = int(s.feed.size());
  it.all_logits = true;
  it.logits = &s.rows;
  it.hidden = &s.hidden_rows;
}

int Scheduler::verify(Seq& s, const BatchItem& it) {
  // Rows are sampled in order while the drafts agree with what was sampled (runtime/speculative.h: the
  // output is the target's, greedy or sampled); the cache keeps the pending token and the kept drafts.
  Slot* slot = s.slot;
  const int64_t keep_base = slot->seq.cache().n_past() - it.n_tokens + 1;
  s.pending = -1;
  int generated = 0, accepted = 0;
  for (int r = 0; r < it.n_tokens; ++r) {
    s.logits.assign(s.rows.begin() + int64_t(r) * vocab_, s.rows.begin() + int64_t(r + 1) * vocab_);
    if (!sample(s)) break;
    ++generated;
    if (s.done || r + 1 == it.n_tokens || s.generated.back() != s.feed[size_t(r + 1)]) break;
    ++accepted;
  }
  if (slot->seq.cache().n_past() >= keep_base + accepted) slot->seq.truncate(size_t(keep_base + accepted));
  const int64_t H = model_.config().hidden_size;
  s.hidden.assign(s.hidden_rows.begin() + accepted * H, s.hidden_rows.begin() + (accepted + 1) * H);
  std::lock_guard<std::mutex> lk(mu_);
  stats_.drafted_tokens += it.n_tokens - 1;
  stats_.accepted_tokens += accepted;
  return generated;
}

int Scheduler::fork_group(Seq& leader) {
  // The leader's cache holds exactly the prompt now, and leader.logits are the logits after it.
  std::vector<std::unique_ptr<Seq>> forks;
  {
    std::lock_guard<std::mutex> lk(mu_);
    leader.group->leader_prefilling = false;
    int free_slots = int(std::count_if(slots_.begin(), slots_.end(), [](auto& sl) { return !sl->busy; }));
    for (auto it = waiting_.begin(); it != waiting_.end() && free_slots > 0;) {
      if ((*it)->group == leader.group && !(*it)->channel->cancelled()) {
        forks.push_back(std::move(*it));
        it = waiting_.erase(it);
        --free_slots;
        ++stats_.slots_busy;
      } else {
        ++it;
      }
    }
    stats_.queued = int(waiting_.size());
  }
  int generated = 0;
  for (auto& f : forks) {
    Slot* slot = nullptr;
    for (auto& sl : slots_)
      if (!sl->busy && (!slot || sl->last_used < slot->last_used)) slot = sl.get();
    slot->seq.copy_from(leader.slot->seq);
    slot->busy = true;
    slot->last_used = ++use_counter_;
    f->slot = slot;
    f->n_fed = f->req.prompt.size();
    f->cached = int(f->req.prompt.size());
    f->logits = leader.logits;
    f->hidden = leader.hidden;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stats_.prompt_tokens += int64_t(f->req.prompt.size());
      stats_.prompt_tokens_cached += int64_t(f->req.prompt.size());
    }
    Seq& fs = *f;
    running_.push_back(std::move(f));
    if (sample(fs)) ++generated;
  }
  return generated;
}

bool Scheduler::step() {
  admit();
  // Cancelled sequences end now.
  for (auto& s : running_)
    if (!s->done && s->channel->cancelled()) finish(*s, "cancelled");
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](auto& s) { return s->done; }), running_.end());
  if (running_.empty()) return false;

  const double t0 = now_seconds();
  std::vector<BatchItem> batch;
  std::vector<Seq*> owners;
  std::vector<int> fed;
  int64_t decode_tokens = 0, prefill_tokens = 0;
  // One decode token for every generating sequence.
  for (auto& sp : running_) {
    Seq& s = *sp;
    if (s.pending < 0) continue;
    if (s.slot->seq.cache().n_past() + 1 > opt_.ctx) {  // the context is full: OpenAI's "length"
      finish(s, "length");
      continue;
    }
    if (s.logits.size() != size_t(vocab_)) s.logits.resize(size_t(vocab_));
    BatchItem it;
    it.cache = &s.slot->seq.cache();
    it.ids = &s.pending;
    it.n_tokens = 1;
    it.logits = &s.logits;
    if (opt_.drafts && opt_.draft_max > 0) add_drafts(s, it);
    batch.push_back(it);
    owners.push_back(&s);
    fed.push_back(it.n_tokens);
    decode_tokens += it.n_tokens;
  }
  // Prefill chunks, oldest request first, within the per-step budget.
  int budget = opt_.prefill_chunk;
  for (auto& sp : running_) {
    Seq& s = *sp;
    if (s.done || s.pending >= 0 || budget <= 0) continue;
    size_t left = s.req.prompt.size() - s.n_fed;
    int n = int(std::min<size_t>({left, size_t(budget), size_t(s.slot->seq.cache().max_chunk())}));
    if (n <= 0) continue;
    const MediaPrompt* media = s.req.media.get();
    if (media) {  // a bidirectional image block goes whole into one pass (it may exceed the step's budget)
      n = int(media->chunk_end(s.n_fed, s.n_fed + size_t(n)) - s.n_fed);
      if (n > s.slot->seq.cache().max_chunk()) {
        finish(s, "error", "an image block of " + std::to_string(n) + " tokens exceeds the KV cache's chunk size");
        continue;
      }
    }
    BatchItem it;
    it.cache = &s.slot->seq.cache();
    it.ids = s.req.prompt.data() + s.n_fed;
    it.n_tokens = n;
    if (media) {
      it.embed_rows = media->rows.data() + s.n_fed;
      if (media->has_blocks) it.block_end = media->block_end.data() + s.n_fed;
    }
    const bool last = s.n_fed + size_t(n) == s.req.prompt.size();
    if (last) {
      if (s.logits.size() != size_t(vocab_)) s.logits.resize(size_t(vocab_));
      it.logits = &s.logits;
      if (opt_.drafts && opt_.draft_max > 0) it.hidden = &s.hidden;  // where drafting starts
    }
    batch.push_back(it);
    owners.push_back(&s);
    fed.push_back(n);
    budget -= n;
    prefill_tokens += n;
  }
  if (batch.empty()) {
    running_.erase(std::remove_if(running_.begin(), running_.end(), [](auto& s) { return s->done; }), running_.end());
    return false;
  }

  auto run = [&](std::vector<BatchItem>& b) { model_.forward(b); };
  std::vector<bool> failed(batch.size(), false);
  bool alone = !opt_.batching;
  if (opt_.batching) {
    try {
      run(batch);
    } catch (const std::exception& e) {
      // Find the sequence that failed: forward() checks every item before it changes any cache, so the
      // batch can be run again one sequence at a time, and only the failing one ends in an error.
      std::fprintf(stderr, "scheduler: a batch of %zu sequences failed (%s); retrying them one by one\n", batch.size(),
                   e.what());
      alone = true;
    }
  }
  if (alone) {
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<BatchItem> one{batch[i]};
      try {
        run(one);
      } catch (const std::exception& e) {
        failed[i] = true;
        finish(*owners[i], "error", e.what());
      }
    }
  }

  int64_t generated = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (failed[i]) continue;
    Seq& s = *owners[i];
    // Prefill chunks of media prompts record their keys (a decode token is its own key).
    const bool media_prefill = s.pending < 0 && s.req.media;
    s.slot->seq.appended(media_prefill ? s.req.media->cache_key.data() + s.n_fed : batch[i].ids, size_t(fed[i]));
    if (s.pending >= 0 && batch[i].n_tokens > 1) {  // drafts to verify
      generated += verify(s, batch[i]);
      continue;
    }
    if (s.pending >= 0) {
      s.pending = -1;
    } else {
      s.n_fed += size_t(fed[i]);
      if (s.n_fed == s.req.prompt.size()) s.slot->seq.prompt_done();  // checkpoint where the answer begins
    }
    // Choice 0 of an n > 1 request has read the prompt: the other choices start from here.
    if (batch[i].logits && s.group && s.index == 0 && s.group->leader_prefilling) generated += fork_group(s);
    if (batch[i].logits && sample(s)) ++generated;
  }
  const double t1 = now_seconds();
  running_.erase(std::remove_if(running_.begin(), running_.end(), [](auto& s) { return s->done; }), running_.end());
  {
    std::lock_guard<std::mutex> lk(mu_);
    stats_.forward_passes += opt_.batching ? 1 : int64_t(batch.size());
    stats_.batch_tokens += decode_tokens + prefill_tokens;
    stats_.prompt_tokens_computed += prefill_tokens;
    stats_.generated_tokens += generated;
    stats_.busy_seconds += t1 - t0;
    note_rate(gen_window_, generated, t1);
    note_rate(prompt_window_, prefill_tokens, t1);
    stats_.running = int(running_.size());
    int64_t used = 0, bytes = 0;
    for (auto& sl : slots_) {
      used += sl->seq.cache().n_past();
      bytes += int64_t(sl->seq.cache().bytes());
    }
    stats_.kv_tokens_used = used;
    stats_.kv_bytes = bytes;
  }
  return true;
}

}  // namespace g4::server

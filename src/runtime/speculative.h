#pragma once
// Decoding after a prompt, one token per target pass or several with speculative decoding: a draft
// source proposes k tokens, the target runs over the last sampled token plus the k drafts in one
// batched pass, and the tokens are sampled row by row from the target's own logits; drafts are kept
// while they equal what was sampled, and the KV cache (full layers and sliding rings) rolls back the
// rest. The first token that differs (or the one after the last draft) comes from the same pass.
//
// Exactness: with greedy sampling the output is the target's greedy output. When sampling, drafts are
// greedy (a point mass q on the drafted token d), so speculative sampling's rule (accept d with
// probability min(1, p(d)/q(d)) = p(d), else draw from the residual max(0, p - q), i.e. p without d)
// is the same as drawing x ~ p with the target's sampler and keeping d when x == d: every emitted token
// is distributed exactly as the target's (sampling chain included), whatever the drafter proposes.
#include <cstdint>
#include <memory>
#include <vector>

#include "model/drafter.h"
#include "model/model.h"
#include "runtime/sampler.h"

namespace g4 {

// Counts of one generation (or a server's lifetime).
struct SpeculativeStats {
  int64_t drafted = 0;   // tokens proposed and verified
  int64_t accepted = 0;  // of those, kept
  int64_t passes = 0;    // target passes that verified drafts
  double acceptance() const { return drafted > 0 ? double(accepted) / double(drafted) : 0.0; }
  void add(const SpeculativeStats& o) {
    drafted += o.drafted;
    accepted += o.accepted;
    passes += o.passes;
  }
};

// Proposes tokens to verify.
class DraftSource {
 public:
  virtual ~DraftSource() = default;
  // Up to k tokens to follow `history`, whose last token is not in `cache` yet (the cache holds every
  // earlier one); h_prev is the target's final-norm hidden state at the cache's last position.
  virtual std::vector<int32_t> propose(const KVCache& cache, const std::vector<int32_t>& history,
                                       const std::vector<float>& h_prev, int k) = 0;
};

// The Gemma 4 MTP drafter as a draft source.
class DrafterSource : public DraftSource {
 public:
  DrafterSource(const Model& target, const Drafter& drafter) : target_(target), drafter_(drafter) {}
  std::vector<int32_t> propose(const KVCache& cache, const std::vector<int32_t>& history, const std::vector<float>& h_prev,
                               int k) override {
    return drafter_.draft(target_, cache, history.back(), h_prev, k);
  }

 private:
  const Model& target_;
  const Drafter& drafter_;
};

// Token-by-token (or draft-by-draft) decoding on one cache. Invariant between calls: the cache holds
// every token returned so far except the last one.
class Decoder {
 public:
  // drafts == nullptr or draft_max == 0: plain decoding, one target pass per token.
  Decoder(const Model& model, KVCache& cache, Sampler& sampler, DraftSource* drafts = nullptr, int draft_max = 0);

  // Appends `prompt` to the cache (it must not be empty).
  void prefill(const std::vector<int32_t>& prompt);
  // The same with soft tokens in place of placeholders; the model gives no hidden state for such a
  // prompt, so the first token after it is decoded without drafts.
  void prefill(const std::vector<int32_t>& prompt, const std::vector<MediaSpan>& media);
  // The next 1 to min(budget, draft_max + 1) tokens, sampled in order and appended to `history` (which
  // must end with the prompt or the tokens returned so far). budget >= 1; the cache must have room for
  // one more position.
  std::vector<int32_t> next(std::vector<int32_t>& history, int budget);
  // The caller used only the first `used` (>= 1) tokens of the last next(): rolls the cache back so that
  // it holds every used token but the last, as if the others had never been drafted.
  void drop_unused(int used);

  const SpeculativeStats& stats() const { return stats_; }

 private:
  const Model& model_;
  KVCache& cache_;
  Sampler& sampler_;
  DraftSource* drafts_;
  int draft_max_;
  std::vector<float> logits_, hidden_;  // after prefill: the last prompt token's
  int32_t pending_ = -1;                // the last returned token (not in the cache)
  int last_returned_ = 0;
  SpeculativeStats stats_;
};

// The fixtures' drafting procedure (../shared/fixtures/hf/g4-*-assistant/reference.json): target prefill
// over `ids`, next = argmax of the last logits, then `steps` greedy drafter steps at position ids.size()
// from (next, the target's final-norm hidden state at the last position).
struct DraftProcedure {
  std::vector<float> target_logits;      // [T, V]
  std::vector<float> target_hidden;      // [T, H]
  int32_t next_token = 0;
  std::vector<int32_t> draft_ids;        // [steps]
  std::vector<float> draft_logits;       // [steps, V]
  std::vector<float> draft_hidden;       // [steps, H] (post_projection outputs)
  // The K/V the drafter reads, per layer type ("sliding_attention", "full_attention"): [n_kv, T, d].
  struct KV {
    std::string type;
    int64_t n_kv = 0, d = 0;
    std::vector<float> k, v;
  };
  std::vector<KV> shared_kv;
};
DraftProcedure run_draft_procedure(const Model& target, const Drafter& drafter, KVCache& cache, const std::vector<int32_t>& ids,
                                   int steps);

}  // namespace g4

#include "runtime/speculative.h"

#include <algorithm>

#include "core/error.h"

namespace g4 {

Decoder::Decoder(const Model& model, KVCache& cache, Sampler& sampler, DraftSource* drafts, int draft_max)
    : model_(model), cache_(cache), sampler_(sampler), drafts_(drafts), draft_max_(drafts ? std::max(0, draft_max) : 0) {}

void Decoder::prefill(const std::vector<int32_t>& prompt) {
  if (prompt.empty()) throw Error("decoding needs at least one prompt token");
  logits_ = model_.prefill(cache_, prompt, false, nullptr, draft_max_ > 0 ? &hidden_ : nullptr);
  pending_ = -1;
  last_returned_ = 0;
}

void Decoder::prefill(const std::vector<int32_t>& prompt, const std::vector<MediaSpan>& media) {
  if (media.empty()) return prefill(prompt);
  if (prompt.empty()) throw Error("decoding needs at least one prompt token");
  logits_ = model_.prefill(cache_, prompt, media);
  hidden_.clear();
  pending_ = -1;
  last_returned_ = 0;
}

std::vector<int32_t> Decoder::next(std::vector<int32_t>& history, int budget) {
  const int32_t V = model_.config().vocab_size;
  if (budget < 1) throw Error("internal: decoding with no token budget");
  std::vector<int32_t> out;
  if (pending_ < 0) {  // right after the prompt: its logits are at hand
    if (logits_.empty()) throw Error("internal: decoding before the prompt");
    pending_ = sampler_.sample(logits_.data(), V, history);
    history.push_back(pending_);
    out.push_back(pending_);
    last_returned_ = 1;
    return out;
  }
  const int64_t room = cache_.max_context() - cache_.n_past();
  if (room < 1) throw Error("the context of " + std::to_string(cache_.max_context()) + " tokens is full");
  // Drafts: at most what the budget, the context and one pass allow (a chunk; after rolling back, the
  // sliding rings must still hold the drafter's window of W + 1 positions: k + 2 <= chunk).
  int k = int(std::min<int64_t>({int64_t(draft_max_), int64_t(budget) - 1, room - 1, int64_t(cache_.max_chunk()) - 2}));
  if (hidden_.empty()) k = 0;  // after a prompt with media: no hidden state to draft from yet
  std::vector<int32_t> drafts;
  if (k > 0) {
    drafts = drafts_->propose(cache_, history, hidden_, k);
    if (int(drafts.size()) > k) drafts.resize(size_t(k));
    for (int32_t d : drafts)
      if (d < 0 || d >= V) throw Error("internal: a drafted token id is out of range");
  }
  k = int(drafts.size());
  std::vector<int32_t> ids;
  ids.reserve(size_t(k) + 1);
  ids.push_back(pending_);
  ids.insert(ids.end(), drafts.begin(), drafts.end());
  const int64_t n0 = cache_.n_past();
  std::vector<float> rows, hid;
  std::vector<BatchItem> batch(1);
  batch[0].cache = &cache_;
  batch[0].ids = ids.data();
  batch[0].n_tokens = k + 1;
  batch[0].all_logits = k > 0;
  batch[0].logits = &rows;
  batch[0].hidden = draft_max_ > 0 ? &hid : nullptr;
  model_.forward(batch);
  // Sample row by row; row i's logits are valid while every earlier draft was kept.
  int i = 0;
  for (;; ++i) {
    const int32_t tok = sampler_.sample(rows.data() + size_t(i) * size_t(V), V, history);
    history.push_back(tok);
    out.push_back(tok);
    if (i < k && tok == drafts[size_t(i)]) continue;
    pending_ = tok;
    break;
  }
  cache_.truncate(n0 + 1 + i);  // the pending token and the kept drafts
  if (draft_max_ > 0) {
    const int64_t H = model_.config().hidden_size;
    hidden_.assign(hid.begin() + i * H, hid.begin() + (i + 1) * H);
  }
  if (k > 0) {
    stats_.drafted += k;
    stats_.accepted += i;
    stats_.passes += 1;
  }
  last_returned_ = int(out.size());
  return out;
}

void Decoder::drop_unused(int used) {
  if (used < 1 || used > last_returned_) throw Error("internal: drop_unused out of range");
  const int64_t unused = last_returned_ - used;
  if (unused == 0) return;
  // The cache holds the returned tokens but the last: the used ones but the last are what stays.
  cache_.truncate(cache_.n_past() - unused);
  last_returned_ = used;
}

DraftProcedure run_draft_procedure(const Model& target, const Drafter& drafter, KVCache& cache, const std::vector<int32_t>& ids,
                                   int steps) {
  if (ids.empty()) throw Error("drafting needs at least one prompt token");
  if (steps < 1) throw Error("drafting needs at least one step");
  drafter.check_compatible(target.config());
  DraftProcedure r;
  const int64_t T = int64_t(ids.size()), V = target.config().vocab_size, H = target.config().hidden_size;
  r.target_logits = target.prefill(cache, ids, true, nullptr, &r.target_hidden);
  const float* last = r.target_logits.data() + (T - 1) * V;
  r.next_token = int32_t(std::max_element(last, last + V) - last);
  std::vector<float> h(r.target_hidden.end() - H, r.target_hidden.end());
  r.draft_ids = drafter.draft(target, cache, r.next_token, h, steps, &r.draft_logits, &r.draft_hidden);
  for (LayerType type : {LayerType::Sliding, LayerType::Full}) {
    const int layer = Drafter::target_kv_layer(target.config(), type);
    if (layer < 0) continue;
    const LayerPlan& p = target.config().layers[size_t(layer)];
    DraftProcedure::KV kv;
    kv.type = type == LayerType::Full ? "full_attention" : "sliding_attention";
    kv.n_kv = p.n_kv_heads;
    kv.d = p.head_dim;
    // Positions a sliding ring no longer holds are left at zero.
    const int64_t first = type == LayerType::Sliding && target.config().sliding_window > 0
                              ? std::max<int64_t>(0, T - (int64_t(target.config().sliding_window) - 1 + cache.max_chunk()))
                              : 0;
    kv.k.assign(size_t(kv.n_kv * T * kv.d), 0.0f);
    kv.v.assign(kv.k.size(), 0.0f);
    Weight row;
    row.rows = 1;
    row.cols = kv.d;
    for (int64_t g = 0; g < kv.n_kv; ++g)
      for (int64_t t = first; t < T; ++t) {
        float* dk = kv.k.data() + (g * T + t) * kv.d;
        float* dv = kv.v.data() + (g * T + t) * kv.d;
        row.type = kv_storage_type(cache.types().k);
        row.data = cache.key(layer, t, int(g));
        dequantize_row(row, 0, dk);
        row.type = kv_storage_type(cache.types().v);
        row.data = cache.value(layer, t, int(g));
        dequantize_row(row, 0, dv);
      }
    r.shared_kv.push_back(std::move(kv));
  }
  return r;
}

}  // namespace g4

#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "model/ops.h"
#include "quant/flash_attention.h"

namespace g4 {

namespace {

ThreadPool& pool() { return ThreadPool::global(); }

int64_t total_tokens(const std::vector<BatchItem>& batch) {
  int64_t t = 0;
  for (const auto& b : batch) t += b.n_tokens;
  return t;
}

}  // namespace

Model::Model(ModelConfig config, std::shared_ptr<WeightSource> source)
    : config_(std::move(config)), source_(std::move(source)), weights_(bind_weights(config_, *source_)) {
  for (const LayerPlan& p : config_.layers) rope_.emplace_back(config_.rope(p.type), p.head_dim);
}

std::unique_ptr<KVCache> Model::new_cache(int64_t max_context, int max_chunk, KVTypes types, int checkpoints) const {
  return std::make_unique<KVCache>(config_, max_context, max_chunk, types, checkpoints);
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  auto add = [&](const Weight& w) { n += w.empty() ? 0 : w.rows * w.cols; };
  add(weights_.embed);
  add(weights_.ple_embed);
  add(weights_.ple_model_proj);
  n += int64_t(weights_.ple_proj_norm.size() + weights_.final_norm.size());
  for (const LayerWeights& l : weights_.layers) {
    for (const Weight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router, &l.ple_gate, &l.ple_proj}) add(*w);
    for (const ExpertWeights& e : l.experts) { add(e.gate); add(e.up); add(e.down); }
    n += int64_t(l.input_norm.size() + l.post_attn_norm.size() + l.pre_ffn_norm.size() + l.post_ffn_norm.size() +
                 l.q_norm.size() + l.k_norm.size() + l.router_scale.size() + l.per_expert_scale.size() +
                 l.pre_ffn_norm2.size() + l.post_ffn_norm1.size() + l.post_ffn_norm2.size() + l.post_ple_norm.size());
    n += config_.has_layer_scalar ? 1 : 0;
  }
  return n;
}

namespace {
volatile uint8_t g_touch_sink;  // keeps the page reads from being optimised away

void touch(const Weight& w) {
  if (w.empty()) return;
  uint8_t acc = 0;
  const size_t n = w.bytes();
  for (size_t i = 0; i < n; i += 4096) acc ^= w.data[i];
  if (n) acc ^= w.data[n - 1];
  g_touch_sink = acc;
}
}  // namespace

void Model::prefetch(const std::function<void(int, int)>& progress) const {
  const int total = int(weights_.layers.size()) + 1;
  touch(weights_.embed);
  touch(weights_.ple_model_proj);
  if (progress) progress(1, total);
  for (size_t i = 0; i < weights_.layers.size(); ++i) {
    const LayerWeights& l = weights_.layers[i];
    for (const Weight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router, &l.ple_gate, &l.ple_proj}) touch(*w);
    for (const ExpertWeights& e : l.experts) { touch(e.gate); touch(e.up); touch(e.down); }
    if (progress) progress(int(i) + 2, total);
  }
}

size_t Model::weight_bytes() const {
  size_t n = 0;
  auto add = [&](const Weight& w) { n += w.empty() ? 0 : w.bytes(); };
  add(weights_.embed);
  add(weights_.ple_embed);
  add(weights_.ple_model_proj);
  for (const LayerWeights& l : weights_.layers) {
    for (const Weight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router, &l.ple_gate, &l.ple_proj}) add(*w);
    for (const ExpertWeights& e : l.experts) { add(e.gate); add(e.up); add(e.down); }
  }
  return n;
}

void Model::store_kv(int layer, std::vector<BatchItem>& batch, const float* k, const float* v) const {
  const LayerPlan& p = config_.layers[size_t(layer)];
  const size_t row = size_t(p.n_kv_heads) * size_t(p.head_dim);
  int64_t t = 0;
  for (BatchItem& item : batch) {
    for (int i = 0; i < item.n_tokens; ++i, ++t)
      item.cache->store(layer, item.cache->n_past() + i, k + size_t(t) * row, v + size_t(t) * row);
  }
}

namespace {

// Exact (f32) attention products when both cached types are f32 (the reference configuration), else the
// fast bf16 tiles where the CPU has them. G4_ATTN=exact|fast overrides (A/B measurements).
kernels::AttnMath attention_math(KVTypes t) {
  static const int forced = [] {
    const char* e = std::getenv("G4_ATTN");
    if (!e) return 0;
    const std::string v = e;
    if (v == "exact") return 1;
    if (v == "fast") return 2;
    throw Error("G4_ATTN must be 'exact' or 'fast', not '" + v + "'");
  }();
  if (forced) return forced == 1 ? kernels::AttnMath::Exact : kernels::AttnMath::Fast;
  return t.k == KVType::F32 && t.v == KVType::F32 ? kernels::AttnMath::Exact : kernels::AttnMath::Fast;
}

}  // namespace

void Model::attention(int layer, const std::vector<BatchItem>& batch, const float* q, float* out) const {
  const LayerPlan& p = config_.layers[size_t(layer)];
  const int src = p.kv_source;
  const int nh = config_.n_heads, n_kv = p.n_kv_heads, group = nh / n_kv;
  const int64_t d = p.head_dim, qdim = int64_t(nh) * d;
  const bool sliding = p.type == LayerType::Sliding && config_.sliding_window > 0;
  const int64_t W = config_.sliding_window;
  // What each new token sees: [lo, hi] = its window (or everything before it) up to itself.
  static thread_local std::vector<int64_t> lo, hi;
  lo.resize(size_t(total_tokens(batch)));
  hi.resize(lo.size());
  // One problem per (sequence, KV head); sequences whose caches store different types go in separate calls.
  std::vector<bool> done(batch.size(), false);
  for (size_t first = 0; first < batch.size(); ++first) {
    if (done[first]) continue;
    const KVTypes types = batch[first].cache->types();
    kernels::AttnShape shape;
    shape.d = d;
    shape.nh = group;
    shape.k_type = kv_storage_type(types.k);
    shape.v_type = kv_storage_type(types.v);
    shape.scale = config_.attention_scale;
    shape.softcap = config_.attn_logit_softcap;
    std::vector<kernels::AttnProblem> problems;
    int64_t t = 0;
    for (size_t b = 0; b < batch.size(); t += batch[b].n_tokens, ++b) {
      const BatchItem& item = batch[b];
      if (done[b] || !(item.cache->types() == types)) continue;
      done[b] = true;
      for (int i = 0; i < item.n_tokens; ++i) {
        const int64_t pos = item.cache->n_past() + i;
        lo[size_t(t + i)] = sliding ? std::max<int64_t>(0, pos - W + 1) : 0;
        hi[size_t(t + i)] = pos;
      }
      for (int g = 0; g < n_kv; ++g) {
        kernels::AttnProblem pr;
        pr.n_q = item.n_tokens;
        pr.q = q + t * qdim + int64_t(g) * group * d;
        pr.out = out + t * qdim + int64_t(g) * group * d;
        pr.q_stride = pr.out_stride = qdim;
        pr.lo = lo.data() + t;
        pr.hi = hi.data() + t;
        pr.k = item.cache->key_rows(src, g);
        pr.v = item.cache->value_rows(src, g);
        problems.push_back(pr);
      }
    }
    kernels::attention(shape, problems, attention_math(types), pool());
  }
}

void Model::experts(int layer, const float* r, int64_t T, float* out, const ActivationSink* sink) const {
  const LayerWeights& lw = weights_.layers[size_t(layer)];
  const int64_t H = config_.hidden_size, E = config_.n_experts, K = config_.top_k_experts, Im = config_.moe_intermediate_size;
  const float eps = config_.rms_norm_eps;
  // Router: input is the un-normed residual, normalised without weight, times scale * H^-0.5.
  std::vector<float> z(size_t(T * H));
  const float hscale = float(1.0 / std::sqrt(double(H)));
  for (int64_t t = 0; t < T; ++t) {
    ops::rms_norm(r + t * H, nullptr, H, eps, z.data() + t * H);
    for (int64_t c = 0; c < H; ++c) z[size_t(t * H + c)] *= lw.router_scale[size_t(c)] * hscale;
  }
  std::vector<float> logits(size_t(T * E));
  matmul(lw.router, z.data(), size_t(T), logits.data(), pool());
  std::vector<int32_t> top_idx(size_t(T * K));
  std::vector<float> top_w(size_t(T * K));
  for (int64_t t = 0; t < T; ++t) {
    float* pr = logits.data() + t * E;
    ops::softmax(pr, E);  // softmax over all experts, then top-k
    std::vector<int32_t> order(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) order[size_t(e)] = int32_t(e);
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b) {
      return pr[a] > pr[b] || (pr[a] == pr[b] && a < b);
    });
    float sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += pr[order[size_t(k)]];
    for (int64_t k = 0; k < K; ++k) {
      int32_t e = order[size_t(k)];
      top_idx[size_t(t * K + k)] = e;
      top_w[size_t(t * K + k)] = pr[e] / sum * lw.per_expert_scale[size_t(e)];
    }
  }
  if (sink) {
    std::vector<float> idx_f(top_idx.begin(), top_idx.end());
    (*sink)("router." + std::to_string(layer) + ".topk_index", idx_f.data(), {T, K});
    (*sink)("router." + std::to_string(layer) + ".topk_weights", top_w.data(), {T, K});
  }
  // Expert input: a second norm of the residual.
  std::vector<float> xe(size_t(T * H));
  ops::rms_norm_rows(r, lw.pre_ffn_norm2.data(), T, H, eps, xe.data());
  std::fill(out, out + T * H, 0.0f);
  // Group tokens by expert so each selected expert's weights are read once per pass; unselected
  // experts are never touched. Experts are visited in ascending id order.
  std::vector<std::vector<std::pair<int64_t, float>>> users(static_cast<size_t>(E));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) users[size_t(top_idx[size_t(t * K + k)])].emplace_back(t, top_w[size_t(t * K + k)]);
  std::vector<float> xin, g, u, y;
  for (int64_t e = 0; e < E; ++e) {
    const auto& us = users[size_t(e)];
    if (us.empty()) continue;
    const int64_t n = int64_t(us.size());
    xin.resize(size_t(n * H));
    for (int64_t i = 0; i < n; ++i) std::memcpy(xin.data() + i * H, xe.data() + us[size_t(i)].first * H, size_t(H) * sizeof(float));
    g.resize(size_t(n * Im));
    u.resize(size_t(n * Im));
    y.resize(size_t(n * H));
    const ExpertWeights& ew = lw.experts[size_t(e)];
    matmul_many({{&ew.gate, g.data()}, {&ew.up, u.data()}}, xin.data(), size_t(n), pool());
    ops::gelu_mul(g.data(), u.data(), n * Im);
    matmul(ew.down, g.data(), size_t(n), y.data(), pool());
    for (int64_t i = 0; i < n; ++i) {
      float* dst = out + us[size_t(i)].first * H;
      const float wgt = us[size_t(i)].second;
      for (int64_t c = 0; c < H; ++c) dst[c] += wgt * y[size_t(i * H + c)];
    }
  }
}

void Model::feed_forward(int layer, float* h, int64_t T, const ActivationSink* sink) const {
  const LayerPlan& p = config_.layers[size_t(layer)];
  const LayerWeights& lw = weights_.layers[size_t(layer)];
  const int64_t H = config_.hidden_size, I = p.ffn_dim;
  const float eps = config_.rms_norm_eps;
  // Reused across layers and passes: fresh multi-megabyte buffers would cost page faults and zeroing.
  static thread_local std::vector<float> x, g, u, f;
  x.resize(size_t(T * H));
  g.resize(size_t(T * I));
  u.resize(size_t(T * I));
  f.resize(size_t(T * H));
  ops::rms_norm_rows(h, lw.pre_ffn_norm.data(), T, H, eps, x.data());
  matmul_many({{&lw.gate, g.data()}, {&lw.up, u.data()}}, x.data(), size_t(T), pool());
  ops::gelu_mul(g.data(), u.data(), T * I);
  matmul(lw.down, g.data(), size_t(T), f.data(), pool());
  if (p.moe) {
    ops::rms_norm_rows(f.data(), lw.post_ffn_norm1.data(), T, H, eps);
    static thread_local std::vector<float> h2;
    h2.resize(size_t(T * H));
    experts(layer, h, T, h2.data(), sink);
    ops::rms_norm_rows(h2.data(), lw.post_ffn_norm2.data(), T, H, eps);
    ops::add(f.data(), h2.data(), T * H);
  }
  ops::rms_norm_rows(f.data(), lw.post_ffn_norm.data(), T, H, eps);
  ops::add(h, f.data(), T * H);
}

// Soft tokens overwrite their placeholders' embedding rows, and the placeholders' ids become pad for the
// per-layer-input lookup (Gemma4Model.forward: placeholder ids -> pad, then masked_scatter).
static void merge_soft_tokens(const std::vector<BatchItem>& batch, const ModelConfig& c, std::vector<int32_t>& ids, float* h) {
  const int64_t H = c.hidden_size;
  int64_t base = 0;
  for (const BatchItem& item : batch) {
    if (item.soft)
      for (size_t i = 0; i < item.soft->positions.size(); ++i) {
        const int32_t p = item.soft->positions[i];
        if (p < 0 || p >= item.n_tokens) throw Error("forward: soft token position " + std::to_string(p) + " is outside the item");
        std::copy_n(item.soft->rows + int64_t(i) * H, H, h + (base + p) * H);
        ids[size_t(base + p)] = c.pad_id;
      }
    base += item.n_tokens;
  }
}

void Model::forward(std::vector<BatchItem>& batch) const {
  const ModelConfig& c = config_;
  const int64_t T = total_tokens(batch), H = c.hidden_size, V = c.vocab_size, L = c.n_layers, P = c.ple_dim;
  const float eps = c.rms_norm_eps;
  if (T == 0) return;
  const ActivationSink* sink = batch.size() == 1 ? batch[0].sink : nullptr;
  for (BatchItem& item : batch) {
    if (!item.cache) throw Error("forward: batch item without a KV cache");
    if (item.n_tokens > item.cache->max_chunk())
      throw Error("forward: " + std::to_string(item.n_tokens) + " tokens exceed the chunk size " + std::to_string(item.cache->max_chunk()));
    for (int i = 0; i < item.n_tokens; ++i)
      if (item.ids[i] < 0 || item.ids[i] >= V)
        throw Error("token id " + std::to_string(item.ids[i]) + " is out of range for a vocabulary of " + std::to_string(V));
    item.cache->reserve_next(item.n_tokens);
  }
  std::vector<int32_t> ids;
  ids.reserve(size_t(T));
  for (const BatchItem& item : batch) ids.insert(ids.end(), item.ids, item.ids + item.n_tokens);

  // Activations live in buffers reused across passes: fresh ones of tens of megabytes (prefill) would
  // cost page faults and zeroing on every call.
  static thread_local std::vector<float> h, tok, ple;
  // Token embeddings, scaled by sqrt(H) (an f32 constant: we compute in f32).
  h.resize(size_t(T * H));
  const float emb_scale = float(std::sqrt(double(H)));
  for (int64_t t = 0; t < T; ++t) {
    dequantize_row(weights_.embed, ids[size_t(t)], h.data() + t * H);
    ops::scale(h.data() + t * H, emb_scale, H);
  }
  merge_soft_tokens(batch, c, ids, h.data());
  if (sink) (*sink)("embed", h.data(), {T, H});

  // Per-layer inputs: token-identity rows plus a projection of the scaled embedding.
  if (c.has_ple()) {
    const int64_t LP = L * P;
    tok.resize(size_t(T * LP));
    const float ple_scale = float(std::sqrt(double(P)));
    for (int64_t t = 0; t < T; ++t) {
      if (ids[size_t(t)] >= c.ple_vocab) {
        std::fill(tok.begin() + t * LP, tok.begin() + (t + 1) * LP, 0.0f);
        continue;
      }
      dequantize_row(weights_.ple_embed, ids[size_t(t)], tok.data() + t * LP);
      ops::scale(tok.data() + t * LP, ple_scale, LP);
    }
    if (sink) (*sink)("ple_token", tok.data(), {T, L, P});
    ple.resize(size_t(T * LP));
    matmul(weights_.ple_model_proj, h.data(), size_t(T), ple.data(), pool());
    ops::scale(ple.data(), float(1.0 / std::sqrt(double(H))), T * LP);
    ops::rms_norm_rows(ple.data(), weights_.ple_proj_norm.data(), T * L, P, eps);
    const float mix = float(1.0 / std::sqrt(2.0));
    for (size_t i = 0; i < ple.size(); ++i) ple[i] = (ple[i] + tok[i]) * mix;
    if (sink) (*sink)("ple", ple.data(), {T, L, P});
  }

  static thread_local std::vector<float> x, a, q, k, v, attn, pg, pp;
  x.resize(size_t(T * H));
  a.resize(size_t(T * H));
  for (int64_t i = 0; i < L; ++i) {
    const LayerPlan& p = c.layers[size_t(i)];
    const LayerWeights& lw = weights_.layers[size_t(i)];
    const int64_t d = p.head_dim, qdim = int64_t(c.n_heads) * d, kvdim = int64_t(p.n_kv_heads) * d;
    // Attention block (sandwich norms).
    ops::rms_norm_rows(h.data(), lw.input_norm.data(), T, H, eps, x.data());
    q.resize(size_t(T * qdim));
    if (!p.shares_kv(int(i))) {
      k.resize(size_t(T * kvdim));
      v.resize(size_t(T * kvdim));
      if (p.k_eq_v) {
        matmul_many({{&lw.q, q.data()}, {&lw.k, k.data()}}, x.data(), size_t(T), pool());
        v = k;  // V is the raw K projection
      } else {
        matmul_many({{&lw.q, q.data()}, {&lw.k, k.data()}, {&lw.v, v.data()}}, x.data(), size_t(T), pool());
      }
      if (c.has_v_norm) ops::rms_norm_rows(v.data(), nullptr, T * p.n_kv_heads, d, eps);
      ops::rms_norm_rows(k.data(), lw.k_norm.data(), T * p.n_kv_heads, d, eps);
    } else {
      matmul(lw.q, x.data(), size_t(T), q.data(), pool());
    }
    ops::rms_norm_rows(q.data(), lw.q_norm.data(), T * c.n_heads, d, eps);
    {
      int64_t t = 0;
      for (const BatchItem& item : batch)
        for (int j = 0; j < item.n_tokens; ++j, ++t) {
          const int64_t pos = item.cache->n_past() + j;
          rope_[size_t(i)].apply(q.data() + t * qdim, c.n_heads, pos);
          if (!p.shares_kv(int(i))) rope_[size_t(i)].apply(k.data() + t * kvdim, p.n_kv_heads, pos);
        }
    }
    if (!p.shares_kv(int(i))) store_kv(int(i), batch, k.data(), v.data());
    attn.resize(size_t(T * qdim));
    attention(int(i), batch, q.data(), attn.data());
    matmul(lw.o, attn.data(), size_t(T), a.data(), pool());
    ops::rms_norm_rows(a.data(), lw.post_attn_norm.data(), T, H, eps);
    ops::add(h.data(), a.data(), T * H);
    // Feed-forward block (dense MLP, plus experts in MoE layers).
    feed_forward(int(i), h.data(), T, sink);
    // Per-layer embedding block.
    if (c.has_ple()) {
      pg.resize(size_t(T * P));
      matmul(lw.ple_gate, h.data(), size_t(T), pg.data(), pool());
      ops::gelu_mul(pg.data(), nullptr, T * P);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < P; ++j) pg[size_t(t * P + j)] *= ple[size_t((t * L + i) * P + j)];
      pp.resize(size_t(T * H));
      matmul(lw.ple_proj, pg.data(), size_t(T), pp.data(), pool());
      ops::rms_norm_rows(pp.data(), lw.post_ple_norm.data(), T, H, eps);
      ops::add(h.data(), pp.data(), T * H);
    }
    if (c.has_layer_scalar) ops::scale(h.data(), lw.layer_scalar, T * H);
    if (sink) (*sink)("layer." + std::to_string(i), h.data(), {T, H});
  }

  // Final norm, then the tied lm_head on every row whose logits are wanted, all sequences in one product:
  // the head is the largest matrix (262144 x H), so a batch of decoding sequences must read it once.
  static thread_local std::vector<float> hn, all_logits;
  hn.clear();
  int64_t t0 = 0;
  for (BatchItem& item : batch) {
    const int64_t n = item.n_tokens;
    const int64_t first = item.all_logits ? 0 : n - 1, rows = n - first;
    if (item.logits || item.hidden) {
      const size_t at = hn.size();
      hn.resize(at + size_t(rows * H));
      for (int64_t r = 0; r < rows; ++r)
        ops::rms_norm(h.data() + (t0 + first + r) * H, weights_.final_norm.data(), H, eps, hn.data() + at + r * H);
      if (item.hidden) item.hidden->assign(hn.end() - H, hn.end());
      if (!item.logits) hn.resize(at);
    }
    t0 += n;
  }
  const int64_t head_rows = int64_t(hn.size()) / H;
  if (head_rows > 0) {
    all_logits.resize(size_t(head_rows * V));
    matmul(weights_.embed, hn.data(), size_t(head_rows), all_logits.data(), pool());
    if (c.final_logit_softcap > 0) ops::softcap(all_logits.data(), c.final_logit_softcap, head_rows * V);
    int64_t row = 0;
    for (BatchItem& item : batch) {
      if (!item.logits) continue;
      const int64_t rows = item.all_logits ? item.n_tokens : 1;
      item.logits->assign(all_logits.begin() + row * V, all_logits.begin() + (row + rows) * V);
      row += rows;
    }
  }
  // Only now, when nothing can fail any more: a pass that throws leaves every cache where it was, so the
  // caller may run the items again (one by one).
  for (BatchItem& item : batch) item.cache->advance(item.n_tokens);
}

std::vector<float> Model::prefill(KVCache& cache, const std::vector<int32_t>& ids, bool all_logits,
                                  const ActivationSink* sink) const {
  std::vector<float> out, chunk_logits;
  const int chunk = cache.max_chunk();
  for (size_t start = 0; start < ids.size(); start += size_t(chunk)) {
    const int n = int(std::min(ids.size() - start, size_t(chunk)));
    std::vector<BatchItem> batch(1);
    batch[0].cache = &cache;
    batch[0].ids = ids.data() + start;
    batch[0].n_tokens = n;
    batch[0].all_logits = all_logits;
    batch[0].logits = &chunk_logits;
    batch[0].sink = sink;
    forward(batch);
    if (all_logits) out.insert(out.end(), chunk_logits.begin(), chunk_logits.end());
    else if (start + size_t(n) == ids.size()) out = chunk_logits;
  }
  return out;
}

std::vector<float> Model::prefill_soft(KVCache& cache, const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                                       const float* rows, bool all_logits) const {
  for (size_t i = 0; i < positions.size(); ++i)
    if (positions[i] < 0 || size_t(positions[i]) >= ids.size() || (i > 0 && positions[i] <= positions[i - 1]))
      throw Error("prefill: soft token positions must be ascending indices into the prompt");
  std::vector<float> out, chunk_logits;
  const int chunk = cache.max_chunk();
  const int64_t H = config_.hidden_size;
  size_t next = 0;  // first soft token not yet placed
  for (size_t start = 0; start < ids.size(); start += size_t(chunk)) {
    const int n = int(std::min(ids.size() - start, size_t(chunk)));
    SoftTokenRows soft;
    soft.rows = rows + int64_t(next) * H;
    for (; next < positions.size() && size_t(positions[next]) < start + size_t(n); ++next)
      soft.positions.push_back(int32_t(size_t(positions[next]) - start));
    std::vector<BatchItem> batch(1);
    batch[0].cache = &cache;
    batch[0].ids = ids.data() + start;
    batch[0].n_tokens = n;
    batch[0].all_logits = all_logits;
    batch[0].logits = &chunk_logits;
    batch[0].soft = &soft;
    forward(batch);
    if (all_logits) out.insert(out.end(), chunk_logits.begin(), chunk_logits.end());
    else if (start + size_t(n) == ids.size()) out = chunk_logits;
  }
  return out;
}

std::unique_ptr<Model> load_model(const std::string& path) {
  if (is_directory(path)) {
    const std::string cfg_path = path + "/config.json";
    if (!file_exists(cfg_path)) throw Error("no config.json in " + path + ": expected a Hugging Face model folder");
    ModelConfig config = config_from_hf_json(parse_json(read_text_file(cfg_path), cfg_path), cfg_path);
    const std::string gen_path = path + "/generation_config.json";
    if (file_exists(gen_path)) {
      Json gen = parse_json(read_text_file(gen_path), gen_path);
      if (gen.is_object() && gen.contains("eos_token_id")) {
        std::vector<int> eog = read_id_list(gen["eos_token_id"]);
        if (!eog.empty()) config.eog_ids = eog;
      }
    }
    std::shared_ptr<WeightSource> source = open_hf_weights(path);
    return std::make_unique<Model>(std::move(config), std::move(source));
  }
  if (!file_exists(path)) throw Error("model path '" + path + "' does not exist");
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") return load_gguf_model(path);
  throw Error("'" + path + "' is neither a Hugging Face model folder nor a .gguf file");
}

}  // namespace g4

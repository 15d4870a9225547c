#include "model/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace g4 {

KVCache::KVCache(const ModelConfig& c, int64_t max_context, int max_chunk)
    : max_context_(max_context), max_chunk_(std::max(1, max_chunk)) {
  layers_.resize(c.layers.size());
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    LayerStore& s = layers_[i];
    if (p.kv_source != int(i)) continue;
    s.present = true;
    s.row = size_t(p.n_kv_heads) * size_t(p.head_dim);
    if (p.type == LayerType::Sliding && c.sliding_window > 0) {
      s.ring = true;
      s.capacity = std::min<int64_t>(max_context_, int64_t(c.sliding_window) - 1 + max_chunk_);
      s.spare = s.capacity - (int64_t(c.sliding_window) - 1);
      s.k.resize(size_t(s.capacity) * s.row);
      s.v.resize(size_t(s.capacity) * s.row);
    }
  }
}

size_t KVCache::offset(const LayerStore& s, int64_t pos) const {
  return size_t(s.ring ? pos % s.capacity : pos) * s.row;
}

void KVCache::reserve_next(int64_t n) {
  const int64_t need = n_past_ + n;
  if (need > max_context_)
    throw Error("context full: " + std::to_string(need) + " tokens exceed the context size of " + std::to_string(max_context_) +
                " (use a larger --ctx or a shorter prompt)");
  for (LayerStore& s : layers_) {
    if (!s.present || s.ring || need <= s.capacity) continue;
    int64_t cap = std::min<int64_t>(max_context_, std::max<int64_t>(need, std::max<int64_t>(256, s.capacity * 2)));
    s.k.resize(size_t(cap) * s.row);
    s.v.resize(size_t(cap) * s.row);
    s.capacity = cap;
  }
}

float* KVCache::key(int layer, int64_t pos) { LayerStore& s = layers_[size_t(layer)]; return s.k.data() + offset(s, pos); }
float* KVCache::value(int layer, int64_t pos) { LayerStore& s = layers_[size_t(layer)]; return s.v.data() + offset(s, pos); }
const float* KVCache::key(int layer, int64_t pos) const { const LayerStore& s = layers_[size_t(layer)]; return s.k.data() + offset(s, pos); }
const float* KVCache::value(int layer, int64_t pos) const { const LayerStore& s = layers_[size_t(layer)]; return s.v.data() + offset(s, pos); }

void KVCache::truncate(int64_t n) {
  if (n > n_past_) throw Error("cannot truncate the KV cache forward");
  for (const LayerStore& s : layers_)
    if (s.present && s.ring && s.capacity < max_context_ && n_past_ - n > s.spare)
      throw Error("cannot roll back a sliding-window cache by more than " + std::to_string(s.spare) + " positions");
  n_past_ = n;
}

size_t KVCache::bytes() const {
  size_t b = 0;
  for (const LayerStore& s : layers_) b += (s.k.size() + s.v.size()) * sizeof(float);
  return b;
}

}  // namespace g4

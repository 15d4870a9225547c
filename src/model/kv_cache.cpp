#include "model/kv_cache.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "quant/weight.h"

namespace g4 {

namespace {

struct KVTypeName {
  KVType type;
  const char* name;
  WType storage;  // the weight format with the same bytes, whose quantize_row converts f32 to it
};
constexpr KVTypeName kNames[] = {
    {KVType::F32, "f32", WType::F32},
    {KVType::F16, "f16", WType::F16},
    {KVType::BF16, "bf16", WType::BF16},
    {KVType::Q8_0, "q8_0", WType::Q8_0},
};

const KVTypeName& entry(KVType t) {
  for (const KVTypeName& e : kNames)
    if (e.type == t) return e;
  throw Error("unknown KV cache type id " + std::to_string(int(t)));
}

bool is_ring(const ModelConfig& c, const LayerPlan& p) { return p.type == LayerType::Sliding && c.sliding_window > 0; }

int64_t ring_capacity(const ModelConfig& c, int64_t max_context, int max_chunk) {
  return std::min<int64_t>(max_context, int64_t(c.sliding_window) - 1 + max_chunk);
}

}  // namespace

KVType parse_kv_type(const std::string& name) {
  std::string lower = name;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (const KVTypeName& e : kNames)
    if (lower == e.name) return e.type;
  throw Error("unknown KV cache type '" + name + "' (expected one of: f32, f16, bf16, q8_0)");
}

const char* kv_type_name(KVType t) { return entry(t).name; }
const char* kv_type_choices() { return "f32|f16|bf16|q8_0"; }

WType kv_storage_type(KVType t) { return entry(t).storage; }

size_t kv_row_bytes(KVType t, int64_t n) { return wtype_row_bytes(entry(t).storage, n); }

void check_kv_type(const ModelConfig& c, KVType t) {
  if (t != KVType::Q8_0) return;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const int d = c.layers[i].head_dim;
    if (int(i) == c.layers[i].kv_source && d % 32 != 0)
      throw Error("a q8_0 KV cache needs head dims that are multiples of 32, but layer " + std::to_string(i) +
                  " has head_dim " + std::to_string(d) + " (use --kv-type f16, bf16 or f32)");
  }
}

KVCache::KVCache(const ModelConfig& c, int64_t max_context, int max_chunk, KVType type)
    : type_(type), max_context_(max_context), max_chunk_(std::max(1, max_chunk)) {
  check_kv_type(c, type);
  layers_.resize(c.layers.size());
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    LayerStore& s = layers_[i];
    if (p.kv_source != int(i)) continue;
    s.present = true;
    s.row_values = size_t(p.n_kv_heads) * size_t(p.head_dim);
    s.row_bytes = kv_row_bytes(type_, int64_t(s.row_values));
    s.head_bytes = kv_row_bytes(type_, p.head_dim);
    if (is_ring(c, p)) {
      s.ring = true;
      s.capacity = ring_capacity(c, max_context_, max_chunk_);
      s.spare = s.capacity - (int64_t(c.sliding_window) - 1);
      s.k.resize(size_t(s.capacity) * s.row_bytes);
      s.v.resize(size_t(s.capacity) * s.row_bytes);
    }
  }
}

size_t KVCache::planned_bytes(const ModelConfig& c, int64_t max_context, int max_chunk, KVType type) {
  check_kv_type(c, type);
  size_t b = 0;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    if (p.kv_source != int(i)) continue;
    const int64_t positions = is_ring(c, p) ? ring_capacity(c, max_context, std::max(1, max_chunk)) : max_context;
    b += 2 * size_t(positions) * kv_row_bytes(type, int64_t(p.n_kv_heads) * p.head_dim);
  }
  return b;
}

size_t KVCache::offset(const LayerStore& s, int64_t pos, int head) const {
  return size_t(s.ring ? pos % s.capacity : pos) * s.row_bytes + size_t(head) * s.head_bytes;
}

void KVCache::reserve_next(int64_t n) {
  const int64_t need = n_past_ + n;
  if (need > max_context_)
    throw Error("context full: " + std::to_string(need) + " tokens exceed the context size of " + std::to_string(max_context_) +
                " (use a larger --ctx or a shorter prompt)");
  for (LayerStore& s : layers_) {
    if (!s.present || s.ring || need <= s.capacity) continue;
    int64_t cap = std::min<int64_t>(max_context_, std::max<int64_t>(need, std::max<int64_t>(256, s.capacity * 2)));
    s.k.resize(size_t(cap) * s.row_bytes);
    s.v.resize(size_t(cap) * s.row_bytes);
    s.capacity = cap;
  }
}

void KVCache::store(int layer, int64_t pos, const float* k, const float* v) {
  LayerStore& s = layers_[size_t(layer)];
  const WType w = entry(type_).storage;
  const size_t at = offset(s, pos, 0);
  quantize_row(w, k, s.k.data() + at, int64_t(s.row_values));
  quantize_row(w, v, s.v.data() + at, int64_t(s.row_values));
}

const uint8_t* KVCache::key(int layer, int64_t pos, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return s.k.data() + offset(s, pos, head);
}

const uint8_t* KVCache::value(int layer, int64_t pos, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return s.v.data() + offset(s, pos, head);
}

void KVCache::truncate(int64_t n) {
  if (n > n_past_) throw Error("cannot truncate the KV cache forward");
  for (const LayerStore& s : layers_)
    if (s.present && s.ring && s.capacity < max_context_ && n_past_ - n > s.spare)
      throw Error("cannot roll back a sliding-window cache by more than " + std::to_string(s.spare) + " positions");
  n_past_ = n;
}

size_t KVCache::bytes() const {
  size_t b = 0;
  for (const LayerStore& s : layers_) b += s.k.size() + s.v.size();
  return b;
}

}  // namespace g4

#include "model/kv_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/error.h"
#include "quant/weight.h"

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0  // not on every system; the reservation is then merely larger on paper
#endif

namespace g4 {

namespace {

struct KVTypeName {
  KVType type;
  const char* name;
  WType storage;  // the weight format with the same bytes, whose quantize_row converts f32 to it
};
constexpr KVTypeName kNames[] = {
    {KVType::F32, "f32", WType::F32},   {KVType::F16, "f16", WType::F16},    {KVType::BF16, "bf16", WType::BF16},
    {KVType::Q8_0, "q8_0", WType::Q8_0}, {KVType::Q4_0, "q4_0", WType::Q4_0},
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

bool block_type(KVType t) { return t == KVType::Q8_0 || t == KVType::Q4_0; }

}  // namespace

// Address space reserved for `bytes`, backed by memory only where written.
struct KVCache::Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  explicit Buffer(size_t bytes) : size(bytes) {
    if (bytes == 0) return;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      throw Error("cannot reserve " + std::to_string(bytes >> 20) + " MiB of address space for the KV cache");
    data = static_cast<uint8_t*>(p);
    // Decoding at depth reads every cached row of a layer per token: 2 MiB pages keep those reads from
    // missing the TLB every 4 KiB. Pages are still only backed where written (a hint; no-op without THP).
#ifdef MADV_HUGEPAGE  // Linux only
    if (bytes >= (size_t(2) << 20)) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  }
  ~Buffer() {
    if (data) munmap(data, size);
  }
};

KVType parse_kv_type(const std::string& name) {
  std::string lower = name;
  for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  for (const KVTypeName& e : kNames)
    if (lower == e.name) return e.type;
  throw Error("unknown KV cache type '" + name + "' (expected one of: f32, f16, bf16, q8_0, q4_0)");
}

const char* kv_type_name(KVType t) { return entry(t).name; }
std::string kv_types_name(KVTypes t) {
  return t.k == t.v ? kv_type_name(t.k) : std::string(kv_type_name(t.k)) + "/" + kv_type_name(t.v);
}
const char* kv_type_choices() { return "f32|f16|bf16|q8_0|q4_0"; }

WType kv_storage_type(KVType t) { return entry(t).storage; }

size_t kv_row_bytes(KVType t, int64_t n) { return wtype_row_bytes(entry(t).storage, n); }

void check_kv_types(const ModelConfig& c, KVTypes t) {
  if (!block_type(t.k) && !block_type(t.v)) return;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const int d = c.layers[i].head_dim;
    if (int(i) == c.layers[i].kv_source && d % 32 != 0)
      throw Error(std::string("a ") + kv_type_name(block_type(t.k) ? t.k : t.v) +
                  " KV cache needs head dims that are multiples of 32, but layer " + std::to_string(i) + " has head_dim " +
                  std::to_string(d) + " (use f16, bf16 or f32 for --kv-type / --kv-type-k / --kv-type-v)");
  }
}

KVCache::KVCache(const ModelConfig& c, int64_t max_context, int max_chunk, KVTypes types, int checkpoints)
    : types_(types),
      window_(c.sliding_window),
      max_context_(max_context),
      max_chunk_(std::max(1, max_chunk)),
      max_checkpoints_(std::max(0, checkpoints)) {
  if (max_context <= 0) throw Error("the context size must be positive");
  check_kv_types(c, types);
  layers_.resize(c.layers.size());
  try {
    for (size_t i = 0; i < c.layers.size(); ++i) {
      const LayerPlan& p = c.layers[i];
      LayerStore& s = layers_[i];
      if (p.kv_source != int(i)) continue;
      s.present = true;
      s.row_values = int64_t(p.n_kv_heads) * p.head_dim;
      s.k_row = kv_row_bytes(types_.k, s.row_values);
      s.v_row = kv_row_bytes(types_.v, s.row_values);
      s.k_head = kv_row_bytes(types_.k, p.head_dim);
      s.v_head = kv_row_bytes(types_.v, p.head_dim);
      s.ring = is_ring(c, p);
      s.capacity = s.ring ? ring_capacity(c, max_context_, max_chunk_) : max_context_;
      s.spare = s.ring ? s.capacity - (int64_t(c.sliding_window) - 1) : max_context_;
      buffers_.push_back(s.k = new Buffer(size_t(s.capacity) * s.k_row));
      buffers_.push_back(s.v = new Buffer(size_t(s.capacity) * s.v_row));
    }
  } catch (...) {
    for (Buffer* b : buffers_) delete b;
    throw;
  }
}

KVCache::~KVCache() {
  for (Buffer* b : buffers_) delete b;
}

size_t KVCache::planned_bytes(const ModelConfig& c, int64_t max_context, int max_chunk, KVTypes types, int checkpoints) {
  check_kv_types(c, types);
  size_t b = 0;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    if (p.kv_source != int(i)) continue;
    const int64_t row_values = int64_t(p.n_kv_heads) * p.head_dim;
    const size_t row = kv_row_bytes(types.k, row_values) + kv_row_bytes(types.v, row_values);
    const bool ring = is_ring(c, p);
    const int64_t positions = ring ? ring_capacity(c, max_context, std::max(1, max_chunk)) : max_context;
    b += size_t(positions) * row;
    if (ring) b += size_t(std::max(0, checkpoints)) * size_t(std::min<int64_t>(max_context, c.sliding_window - 1)) * row;
  }
  return b;
}

const uint8_t* KVCache::key(int layer, int64_t pos, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return s.k->data + slot(s, pos) * s.k_row + size_t(head) * s.k_head;
}

const uint8_t* KVCache::value(int layer, int64_t pos, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return s.v->data + slot(s, pos) * s.v_row + size_t(head) * s.v_head;
}

kernels::AttnRows KVCache::key_rows(int layer, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return {s.k->data + size_t(head) * s.k_head, s.k_row, s.ring ? s.capacity : 0};
}

kernels::AttnRows KVCache::value_rows(int layer, int head) const {
  const LayerStore& s = layers_[size_t(layer)];
  return {s.v->data + size_t(head) * s.v_head, s.v_row, s.ring ? s.capacity : 0};
}

void KVCache::reserve_next(int64_t n) {
  const int64_t need = n_past_ + n;
  if (need > max_context_)
    throw Error("context full: " + std::to_string(need) + " tokens exceed the context size of " + std::to_string(max_context_) +
                " (use a larger --ctx or a shorter prompt)");
}

void KVCache::store(int layer, int64_t pos, const float* k, const float* v) {
  LayerStore& s = layers_[size_t(layer)];
  const size_t at = slot(s, pos);
  quantize_row(kv_storage_type(types_.k), k, s.k->data + at * s.k_row, s.row_values);
  quantize_row(kv_storage_type(types_.v), v, s.v->data + at * s.v_row, s.row_values);
}

void KVCache::advance(int64_t n) {
  n_past_ += n;
  high_water_ = std::max(high_water_, n_past_);
}

void KVCache::clear() {
  n_past_ = 0;
  checkpoints_.clear();
}

bool KVCache::ring_holds(int64_t n) const {
  for (const LayerStore& s : layers_)
    if (s.present && s.ring && s.capacity < max_context_ && n_past_ - n > s.spare) return false;
  return true;
}

void KVCache::truncate(int64_t n) {
  if (n > n_past_) throw Error("cannot truncate the KV cache forward");
  if (!ring_holds(n)) {
    int64_t spare = max_context_;
    for (const LayerStore& s : layers_)
      if (s.present && s.ring) spare = std::min(spare, s.spare);
    throw Error("cannot roll back a sliding-window cache by more than " + std::to_string(spare) + " positions");
  }
  n_past_ = n;
  while (!checkpoints_.empty() && checkpoints_.back().pos > n) checkpoints_.pop_back();
}

int64_t KVCache::rollback(int64_t n) {
  n = std::max<int64_t>(0, std::min(n, n_past_));
  if (ring_holds(n)) {
    truncate(n);
    return n;
  }
  while (!checkpoints_.empty() && checkpoints_.back().pos > n) checkpoints_.pop_back();
  if (checkpoints_.empty()) {
    clear();
    return 0;
  }
  const Checkpoint& cp = checkpoints_.back();
  size_t r = 0;
  for (const LayerStore& s : layers_) {
    if (!s.present || !s.ring) continue;
    const std::vector<uint8_t>& k = cp.k[r];
    const std::vector<uint8_t>& v = cp.v[r];
    const int64_t held = int64_t(k.size() / s.k_row);
    for (int64_t i = 0; i < held; ++i) {
      const int64_t pos = cp.pos - held + i;
      std::memcpy(s.k->data + slot(s, pos) * s.k_row, k.data() + size_t(i) * s.k_row, s.k_row);
      std::memcpy(s.v->data + slot(s, pos) * s.v_row, v.data() + size_t(i) * s.v_row, s.v_row);
    }
    ++r;
  }
  n_past_ = cp.pos;
  return n_past_;
}

void KVCache::checkpoint() {
  if (max_checkpoints_ == 0 || window_ <= 1) return;
  if (!checkpoints_.empty() && checkpoints_.back().pos == n_past_) return;
  bool any_ring = false;
  for (const LayerStore& s : layers_) any_ring = any_ring || (s.present && s.ring && s.capacity < max_context_);
  if (!any_ring) return;  // the rings never wrap: every rollback is possible without checkpoints
  Checkpoint cp;
  cp.pos = n_past_;
  const int64_t held = std::min<int64_t>(n_past_, window_ - 1);
  for (const LayerStore& s : layers_) {
    if (!s.present || !s.ring) continue;
    std::vector<uint8_t> k(size_t(held) * s.k_row), v(size_t(held) * s.v_row);
    for (int64_t i = 0; i < held; ++i) {
      const int64_t pos = n_past_ - held + i;
      std::memcpy(k.data() + size_t(i) * s.k_row, s.k->data + slot(s, pos) * s.k_row, s.k_row);
      std::memcpy(v.data() + size_t(i) * s.v_row, s.v->data + slot(s, pos) * s.v_row, s.v_row);
    }
    cp.k.push_back(std::move(k));
    cp.v.push_back(std::move(v));
  }
  checkpoints_.push_back(std::move(cp));
  while (int(checkpoints_.size()) > max_checkpoints_) checkpoints_.pop_front();
}

void KVCache::copy_from(const KVCache& src) {
  if (&src == this) return;
  bool same = layers_.size() == src.layers_.size() && types_ == src.types_ && max_context_ == src.max_context_ &&
              max_chunk_ == src.max_chunk_;
  for (size_t i = 0; same && i < layers_.size(); ++i) {
    const LayerStore& a = layers_[i];
    const LayerStore& b = src.layers_[i];
    same = a.present == b.present && a.ring == b.ring && a.capacity == b.capacity && a.k_row == b.k_row && a.v_row == b.v_row;
  }
  if (!same) throw Error("cannot copy a KV cache of another shape");
  for (size_t i = 0; i < layers_.size(); ++i) {
    LayerStore& s = layers_[i];
    if (!s.present) continue;
    const LayerStore& from = src.layers_[i];
    const int64_t rows = std::min(s.capacity, src.n_past_);  // a ring's slots hold positions mod capacity
    std::memcpy(s.k->data, from.k->data, size_t(rows) * s.k_row);
    std::memcpy(s.v->data, from.v->data, size_t(rows) * s.v_row);
  }
  n_past_ = src.n_past_;
  high_water_ = std::max(high_water_, src.n_past_);
  checkpoints_ = src.checkpoints_;
}

std::vector<int64_t> KVCache::checkpoint_positions() const {
  std::vector<int64_t> out;
  for (const Checkpoint& cp : checkpoints_) out.push_back(cp.pos);
  return out;
}

size_t KVCache::bytes() const {
  size_t b = 0;
  for (const LayerStore& s : layers_) {
    if (!s.present) continue;
    const int64_t filled = s.ring ? std::min(s.capacity, high_water_) : high_water_;
    b += size_t(filled) * (s.k_row + s.v_row);
  }
  for (const Checkpoint& cp : checkpoints_)
    for (size_t i = 0; i < cp.k.size(); ++i) b += cp.k[i].size() + cp.v[i].size();
  return b;
}

}  // namespace g4

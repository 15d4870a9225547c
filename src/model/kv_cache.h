#pragma once
// Per-sequence KV cache. Full-attention layers keep every position (growing); sliding layers keep a
// ring of (window - 1 + max_chunk) positions, enough for any chunk of up to max_chunk new tokens to see
// its whole window; KV-shared layers keep nothing and read their source layer's entries.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace g4 {

class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t max_context, int max_chunk = 512);

  int64_t n_past() const { return n_past_; }
  int64_t max_context() const { return max_context_; }
  int max_chunk() const { return max_chunk_; }

  // Row of n_kv_heads * head_dim floats for `pos` in layer `layer` (a non-shared layer). Growing layers
  // reserve room for positions up to `pos` on the way.
  float* key(int layer, int64_t pos);
  float* value(int layer, int64_t pos);
  const float* key(int layer, int64_t pos) const;
  const float* value(int layer, int64_t pos) const;

  // Makes sure positions [n_past, n_past + n) fit; throws g4::Error past max_context.
  void reserve_next(int64_t n);
  void advance(int64_t n) { n_past_ += n; }
  void clear() { n_past_ = 0; }
  // Forget everything after the first n positions (speculative rollback, prefix reuse).
  void truncate(int64_t n);

  size_t bytes() const;

 private:
  struct LayerStore {
    bool present = false;
    bool ring = false;
    int64_t capacity = 0;   // positions held
    int64_t spare = 0;      // ring slots beyond the window: how far a rollback may reach
    size_t row = 0;         // floats per position
    std::vector<float> k, v;
  };
  size_t offset(const LayerStore& s, int64_t pos) const;

  std::vector<LayerStore> layers_;
  int64_t n_past_ = 0;
  int64_t max_context_;
  int max_chunk_;
};

}  // namespace g4

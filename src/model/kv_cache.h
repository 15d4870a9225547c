#pragma once
// Per-sequence KV cache. Full-attention layers keep every position (growing); sliding layers keep a
// ring of (window - 1 + max_chunk) positions, enough for any chunk of up to max_chunk new tokens to see
// its whole window; KV-shared layers keep nothing and read their source layer's entries.
//
// Rows are stored in a KVType: f32 (exact, the reference), f16 (the default: half the memory and
// bandwidth, ~3 significant digits), bf16, or q8_0 (ggml's block_q8_0, about a quarter of f32; needs
// head dims that are multiples of 32). Keys and values are converted from f32 when stored and read by
// the typed kernels in quant/vector_ops.h.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "quant/weight.h"

namespace g4 {

enum class KVType { F32, F16, BF16, Q8_0 };

// "f32", "f16", "bf16", "q8_0" (case-insensitive); throws g4::Error naming the allowed values.
KVType parse_kv_type(const std::string& name);
const char* kv_type_name(KVType t);    // "f32", "f16", "bf16", "q8_0"
const char* kv_type_choices();         // "f32|f16|bf16|q8_0", for help texts
// The weight format with the same bytes as a cache row of type t (what the attention kernels read).
WType kv_storage_type(KVType t);
// Bytes that n values of type t occupy (n a multiple of 32 for q8_0).
size_t kv_row_bytes(KVType t, int64_t n);
// Throws g4::Error when a layer's head dim cannot be stored as t (q8_0 and head dims not a multiple of 32).
void check_kv_type(const ModelConfig& config, KVType t);

class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t max_context, int max_chunk = 512, KVType type = KVType::F16);

  // Bytes a cache of these settings takes once all max_context positions are filled.
  static size_t planned_bytes(const ModelConfig& config, int64_t max_context, int max_chunk, KVType type);

  KVType type() const { return type_; }
  int64_t n_past() const { return n_past_; }
  int64_t max_context() const { return max_context_; }
  int max_chunk() const { return max_chunk_; }

  // Converts the n_kv_heads * head_dim f32 values of k and v into the cache's type at `pos` of layer
  // `layer` (a non-shared layer). The position must have been reserved (reserve_next).
  void store(int layer, int64_t pos, const float* k, const float* v);

  // Raw rows in type(): the start of KV head `head` at `pos`; the head's head_dim values follow.
  const uint8_t* key(int layer, int64_t pos, int head = 0) const;
  const uint8_t* value(int layer, int64_t pos, int head = 0) const;

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
    size_t row_values = 0;  // values per position (n_kv_heads * head_dim)
    size_t row_bytes = 0;   // bytes per position in type_
    size_t head_bytes = 0;  // bytes per KV head
    std::vector<uint8_t> k, v;
  };
  size_t offset(const LayerStore& s, int64_t pos, int head) const;

  std::vector<LayerStore> layers_;
  KVType type_;
  int64_t n_past_ = 0;
  int64_t max_context_;
  int max_chunk_;
};

}  // namespace g4

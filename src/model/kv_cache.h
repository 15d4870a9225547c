#pragma once
// Per-sequence KV cache. Full-attention layers keep every position; sliding layers keep a ring of
// (window - 1 + max_chunk) positions, enough for any chunk of up to max_chunk new tokens to see its whole
// window; KV-shared layers keep nothing and read their source layer's entries.
//
// Memory: each full layer's rows for the whole context are reserved as address space up front and
// filled page by page as positions arrive (nothing is copied as the context grows, and an untouched
// reservation costs no memory). planned_bytes() is what a full context will take.
//
// Rows are stored in a KVType, chosen separately for keys and values: f32 (exact, the reference), f16
// (the default: half the memory and bandwidth, ~3 significant digits), bf16, q8_0 (ggml's block_q8_0,
// about a quarter of f32) or q4_0 (ggml's block_q4_0, about an eighth). q8_0 and q4_0 need head dims that
// are multiples of 32. Values are converted from f32 when stored and read by the attention kernels in
// their storage type.
//
// Rolling back: a sliding ring can give back at most max_chunk positions (its spare slots); beyond that,
// checkpoint() copies the ring's window at the current position so that rollback() can return there
// later (a chat turn's prompt end, before the answer that a re-rendered history may drop).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "model/config.h"
#include "quant/flash_attention.h"
#include "quant/weight.h"

namespace g4 {

enum class KVType { F32, F16, BF16, Q8_0, Q4_0 };

// Storage of keys and values (the same type for both unless said otherwise).
struct KVTypes {
  KVType k = KVType::F16, v = KVType::F16;
  KVTypes() = default;
  KVTypes(KVType both) : k(both), v(both) {}  // NOLINT: a single type means both
  KVTypes(KVType k_, KVType v_) : k(k_), v(v_) {}
  bool operator==(const KVTypes& o) const { return k == o.k && v == o.v; }
};

// "f32", "f16", "bf16", "q8_0", "q4_0" (case-insensitive); throws g4::Error naming the allowed values.
KVType parse_kv_type(const std::string& name);
const char* kv_type_name(KVType t);    // "f32", "f16", "bf16", "q8_0", "q4_0"
std::string kv_types_name(KVTypes t);  // "f16", or "q8_0/q4_0" (keys/values) when they differ
const char* kv_type_choices();         // "f32|f16|bf16|q8_0|q4_0", for help texts
// The weight format with the same bytes as a cache row of type t (what the attention kernels read).
WType kv_storage_type(KVType t);
// Bytes that n values of type t occupy (n a multiple of 32 for q8_0 / q4_0).
size_t kv_row_bytes(KVType t, int64_t n);
// Throws g4::Error when a layer's head dim cannot be stored as these types (q8_0 / q4_0 need multiples of 32).
void check_kv_types(const ModelConfig& config, KVTypes t);

class KVCache {
 public:
  // checkpoints: how many sliding-window checkpoints to keep (each (window - 1) positions of every
  // sliding layer); 0 disables them.
  KVCache(const ModelConfig& config, int64_t max_context, int max_chunk = 512, KVTypes types = {},
          int checkpoints = 0);
  ~KVCache();
  KVCache(const KVCache&) = delete;
  KVCache& operator=(const KVCache&) = delete;

  // Bytes a cache of these settings takes once all max_context positions are filled (with its checkpoints).
  static size_t planned_bytes(const ModelConfig& config, int64_t max_context, int max_chunk, KVTypes types,
                              int checkpoints = 0);

  KVTypes types() const { return types_; }
  int64_t n_past() const { return n_past_; }
  int64_t max_context() const { return max_context_; }
  int max_chunk() const { return max_chunk_; }

  // Converts the n_kv_heads * head_dim f32 values of k and v into the cache's types at `pos` of layer
  // `layer` (a non-shared layer). The position must have been reserved (reserve_next).
  void store(int layer, int64_t pos, const float* k, const float* v);

  // Raw rows: the start of KV head `head` at `pos`; the head's head_dim values follow.
  const uint8_t* key(int layer, int64_t pos, int head = 0) const;
  const uint8_t* value(int layer, int64_t pos, int head = 0) const;
  // Where a KV head's rows are, for the attention kernels.
  kernels::AttnRows key_rows(int layer, int head) const;
  kernels::AttnRows value_rows(int layer, int head) const;

  // Makes sure positions [n_past, n_past + n) fit; throws g4::Error past max_context.
  void reserve_next(int64_t n);
  void advance(int64_t n);
  void clear();
  // Forget everything after the first n positions; throws g4::Error when a sliding ring cannot roll back
  // that far (speculative decoding rolls back at most a chunk).
  void truncate(int64_t n);
  // Rolls back as close to n positions as possible and returns how many are kept: n when the rings still
  // hold the window before n, else the latest checkpoint at or before n, else 0 (start over).
  int64_t rollback(int64_t n);
  // Remembers the sliding-window state at n_past (no-op without checkpoints or sliding layers).
  void checkpoint();
  // Positions of the checkpoints held, oldest first.
  std::vector<int64_t> checkpoint_positions() const;
  // Becomes a copy of `src` (its positions, rings and checkpoints); both must have been built with the
  // same config, context, chunk and types (g4::Error otherwise). The server's n > 1 choices start from
  // a copy of the first choice's prompt instead of prefilling it again.
  void copy_from(const KVCache& src);

  size_t bytes() const;  // memory in use now (filled positions, rings and checkpoints)

 private:
  struct Buffer;  // reserved address space, filled on demand
  struct LayerStore {
    bool present = false;
    bool ring = false;
    int64_t capacity = 0;   // positions held
    int64_t spare = 0;      // ring slots beyond the window: how far a rollback may reach
    int64_t row_values = 0; // values per position (n_kv_heads * head_dim)
    size_t k_row = 0, v_row = 0;    // bytes per position
    size_t k_head = 0, v_head = 0;  // bytes per KV head
    Buffer* k = nullptr;
    Buffer* v = nullptr;
  };
  struct Checkpoint {
    int64_t pos = 0;
    std::vector<std::vector<uint8_t>> k, v;  // per ring layer: positions [pos - n, pos) in order
  };
  size_t slot(const LayerStore& s, int64_t pos) const { return size_t(s.ring ? pos % s.capacity : pos); }
  bool ring_holds(int64_t n) const;

  std::vector<LayerStore> layers_;
  std::vector<Buffer*> buffers_;
  KVTypes types_;
  int64_t window_ = 0;
  int64_t n_past_ = 0;
  int64_t high_water_ = 0;  // most positions ever filled (full layers' touched pages)
  int64_t max_context_;
  int max_chunk_;
  int max_checkpoints_;
  std::deque<Checkpoint> checkpoints_;
};

}  // namespace g4

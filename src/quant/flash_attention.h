#pragma once
// Attention over a KV cache for many sequences at once, the way long prompts need it:
//
// - Prompts (many query tokens): tiled ("flash") attention. A block of query rows (tokens x the query
//   heads sharing one KV head) meets the keys a block at a time; each key/value tile is converted from
//   its storage type once for the whole block of queries, scores go through an online softmax, and no
//   T x T matrix is ever formed. Only the keys some query of the block can see are visited, so a sliding
//   layer touches its window only.
// - Decoding (a few query tokens at depth): the keys are split into chunks shared out among the threads;
//   each chunk gives a partial result (unnormalised output, running max and sum) and a merge step
//   combines them, so one sequence's attention uses every core.
//
// What each query may see is a contiguous interval of key positions [lo, hi] per token: causal
// (hi = position), sliding windows (lo = position - window + 1) and bidirectional blocks (hi past the
// position, to the end of an image) all take this form. Kernels here know nothing of any model.
//
// Precision: AttnMath::Exact multiplies in f32 (the reference: results agree with the one-query-at-a-time
// definition up to summation order). AttnMath::Fast may round queries, keys, values and probabilities to
// bf16 for the AMX tile unit (f32 accumulation), where the CPU has one; elsewhere it is Exact.
#include <cstdint>
#include <vector>

#include "quant/weight.h"

namespace g4 {
class ThreadPool;
}

namespace g4::kernels {

enum class AttnMath { Exact, Fast };

// What every problem of one call shares.
struct AttnShape {
  int64_t d = 0;                   // head dim
  int nh = 1;                      // query heads per KV head
  WType k_type = WType::F32;       // storage of the cached rows: F32, F16, BF16, Q8_0 or Q4_0
  WType v_type = WType::F32;
  float scale = 1.0f;              // scores = softcap(scale * q.k)
  float softcap = 0.0f;            // <= 0: none
};

// Where the cached rows of one KV head are: position pos at base + (pos mod ring) * stride (ring 0: no
// wrapping), each row d values of the shape's type.
struct AttnRows {
  const uint8_t* base = nullptr;
  size_t stride = 0;
  int64_t ring = 0;
  const uint8_t* at(int64_t pos) const { return base + size_t(ring > 0 ? pos % ring : pos) * stride; }
};

// One sequence and one KV head.
struct AttnProblem {
  int n_q = 0;                     // query tokens
  const float* q = nullptr;        // token t, head h: q + t * q_stride + h * d  (f32)
  int64_t q_stride = 0;
  float* out = nullptr;            // same layout as q, with out_stride
  int64_t out_stride = 0;
  const int64_t* lo = nullptr;     // per token: first visible key position
  const int64_t* hi = nullptr;     // per token: last visible key position (inclusive); lo <= hi
  AttnRows k, v;                   // must hold every position of every [lo, hi]
};

// Solves every problem, sharing the work among the pool's threads.
void attention(const AttnShape& shape, const std::vector<AttnProblem>& problems, AttnMath math, ThreadPool& pool);

// Does this CPU run AttnMath::Fast in bf16 tiles (AMX)? (Else Fast is computed as Exact.)
bool attention_fast_available();

// The definition, one query row at a time in double precision: for tests.
void attention_reference(const AttnShape& shape, const AttnProblem& problem);

// Test hooks: force the decode-style (row) or tiled path for every problem, or let the size choose
// (the default); chunk the keys of row-path problems into pieces of at most `chunk` keys (0: automatic);
// run the exact tiles with the portable code even where AVX-512 is available.
enum class AttnPath { Auto, Rows, Tiles };
void attention_force_path(AttnPath path, int64_t chunk = 0, bool portable_tiles = false);

}  // namespace g4::kernels

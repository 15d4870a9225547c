#pragma once
// Internal interface between the dispatcher (matmul.cpp) and the ISA-specific kernel files.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/kernels.h"
#include "quant/weight.h"

namespace g4 {
class ThreadPool;
}

namespace g4::kernels::impl {

// One token's activations, prepared for the kernels of one weight type and ISA.
struct ActQ {
  const float* x = nullptr;       // the f32 row (float weight types)
  const int8_t* q = nullptr;      // int8 values (|q| <= 127), in the kernel's layout
  const float* d = nullptr;       // scale per 32 values, natural block order
  const float* s = nullptr;       // d * sum(q) per 32 values, natural block order
  const float* dl = nullptr;      // AVX-512 layout: scale of each int32 accumulator lane
  const int32_t* bias = nullptr;  // AVX-512 layout: -offset * (sum of the q feeding each lane)
};

enum class Layout { Natural, Avx512 };

// Activations of n tokens quantized for weight type t, owning their storage.
class ActBuffer {
 public:
  void prepare(WType t, const float* x, size_t n_tokens, int64_t cols, Layout layout, bool use_avx512);
  const ActQ* acts() const { return acts_.data(); }

 private:
  std::vector<int8_t> q_, qn_;
  std::vector<float> d_, s_, dl_;
  std::vector<int32_t> bias_;
  std::vector<ActQ> acts_;
};

// Quantizes one row (cols a multiple of 32) to int8 per 32 values: d = amax/127, q = round-to-even(x/d).
void quantize_act_scalar(const float* x, int64_t cols, int8_t* q, float* d, float* s);
void quantize_act_avx512(const float* x, int64_t cols, int8_t* q, float* d, float* s);  // identical results

// Computes y[t * ldy + r] for r in [r0, r1), t < nt (1..4).
using RowsFn = void (*)(const Weight& w, const ActQ* acts, int nt, int64_t r0, int64_t r1, float* y, size_t ldy);

RowsFn rows_fn_scalar_q8(WType t);  // natural layout
void matmul_q8_scalar_impl(const Weight& w, const float* x, size_t n_tokens, float* y);
RowsFn rows_fn_avx2(WType t);       // natural layout; float types use ActQ::x
RowsFn rows_fn_avx512(WType t);     // AVX-512 layout; float types use ActQ::x
RowsFn rows_fn_neon(WType t);       // natural layout; quantized types only (nullptr for the others)
RowsFn rows_fn_neon_dot(WType t);   // likewise, with SDOT (call only where the CPU has it)

// Float-weight GEMM (F32/F16/BF16) for many tokens with AVX-512 FMA, f32-exact up to summation order.
// Computes rows [r0, r1) for all tokens.
void gemm_float_avx512(const Weight& w, const float* x, size_t n_tokens, int64_t r0, int64_t r1, float* y);

// Activations for the integer GEMMs: int8 codes per token (quantize_act_avx512) and per 32 values the
// scale d and d * sum(codes), in one of two layouts:
//  Rows (VNNI GEMM): q [n_tokens][cols], d / s [n_tokens][nb], and bias [n_tokens][2 * nb] = -offset *
//    sum(codes) per 16 codes (the weight type's code offset, gemm_int8_offset).
//  Tiles (AMX GEMM): tokens in tiles of kAmxTokenTile (the last one padded with zero tokens); per tile and
//    block the tile's 16 x 32 codes are contiguous (the A operand of one block), q [tile][nb][16][32],
//    d / s [tile][nb][16]; no bias.
// For weight types of Int8Kind::SplitMins also s2 = d * sum(codes) per 16 codes: Rows [n_tokens][nb][2],
// Tiles [tile][nb][2][16]. Otherwise s2 is not written.
enum class Int8Layout { Rows, Tiles };
constexpr size_t kAmxTokenTile = 16;

struct Int8Acts {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const float* s = nullptr;
  const int32_t* bias = nullptr;
  const float* s2 = nullptr;
  int64_t cols = 0, nb = 0;
};

class Int8ActBuffer {
 public:
  void resize(size_t n_tokens, int64_t cols, Int8Layout layout);
  // Quantizes tokens [t0, t1) of x (rows of cols values) for weights of type t; call resize first.
  void prepare(WType t, const float* x, int64_t cols, size_t t0, size_t t1);
  const Int8Acts& acts() const { return acts_; }

 private:
  Int8Layout layout_ = Int8Layout::Rows;
  std::vector<int8_t> q_;
  std::vector<float> d_, s_, s2_;
  std::vector<int32_t> bias_;
  Int8Acts acts_;
};

// Weight panels of the integer GEMMs. Rows are taken in groups of 16; for 32-value block b and group g
// of a panel of `groups` groups, kInt8GroupBlockBytes at panel + (b * groups + g) * kInt8GroupBlockBytes:
// 8 x 64 bytes of codes (vector j: codes 4j..4j+3 of each of the 16 rows, the VNNI / AMX B-operand
// layout), then the 16 rows' f32 scales and 16 f32 mins (Q6_K, Q3_K: the scales of the block's second 16
// values; Q2_K: Int8Kind::SplitMins's packed mins). Panels cover kInt8ChunkBlocks blocks of columns at most.
constexpr int kInt8PanelLanes = 16;
constexpr int kInt8CodeBytes = 8 * 64;
constexpr int kInt8GroupBlockBytes = kInt8CodeBytes + 2 * 64;
constexpr int64_t kInt8ChunkBlocks = 64;
// Repacks rows [r, r + nrows) (nrows <= 16 * groups; the rest zero) x blocks [b0, b0 + nb) of w into a
// 64-byte aligned panel. Codes are unsigned (element = scale * (code - gemm_int8_offset) - min) or, with
// signed_codes, signed (element = scale * code - min); Q6_K's second 16 values take the second scale in
// place of the min. b0 and nb are multiples of 8 for K-quants. Needs AVX-512.
void repack_int8_panel(const Weight& w, int64_t r, int nrows, int groups, int64_t b0, int64_t nb, bool signed_codes,
                       uint8_t* panel);
// Brings the next panel's weights (rows [r, r + nrows) x blocks [b0, b0 + nb), scattered segments that
// the hardware prefetchers do not anticipate) into L2 a share at a time while the current panel is
// multiplied: a burst of hundreds of prefetches stalls the core once the line fill buffers are full.
class PanelPrefetch {
 public:
  // Plans the requests, to be issued over `steps` calls of step(); an empty range plans nothing.
  void start(const Weight& w, int64_t r, int nrows, int64_t b0, int64_t nb, int64_t steps);
  void step() {
    if (next_ < total_) issue(std::min(total_, next_ + per_step_));
  }
  void finish() { issue(total_); }

 private:
  // Inline here rather than with start(): defined in a kernel file it would carry that file's target
  // options, and the baseline step() above could no longer inline it.
  void issue(int64_t until) {
    for (; next_ < until; ++next_) {
      __builtin_prefetch(first_ + size_t(row_) * row_bytes_ + 64 * line_, 0, 2);  // prefetcht1: into L2
      if (++line_ == lines_) line_ = 0, ++row_;
    }
  }
  const uint8_t* first_ = nullptr;  // row r at block b0
  size_t row_bytes_ = 0;
  int64_t lines_ = 0;               // per row
  int64_t total_ = 0, next_ = 0, per_step_ = 0;
  int64_t row_ = 0, line_ = 0;      // position of next_
};

// Types with matrix-vector kernels of their own at every level (F32/F16/BF16, Q8_0, Q4_0, Q4_K/Q5_K/Q6_K);
// the others take matmul_dequant_tiles.
bool has_direct_kernels(WType t);
// y = x W^T through f32 tiles of dequantized rows and the f32 kernels of level isa (matmul_tiles.cpp).
void matmul_dequant_tiles(const Weight& w, const float* x, size_t n_tokens, float* y, Isa isa, ThreadPool& pool);

// Weight types the integer GEMMs handle and their unsigned-code offset (the VNNI GEMM's codes are
// signed code + offset).
bool gemm_int8_supported(WType t);
int gemm_int8_offset(WType t);
// How a type's per-block int32 dot products become f32 in the integer GEMMs (the panel's two f32 slots):
//  Plain:  scale * d_x * dot                                  (slots: scale, 0)
//  Mins:   scale * d_x * dot - min * d_x * sum(x codes)       (slots: scale, min; codes unsigned, offset 0)
//  Halves: d_x * (scale * dot(first 16) + scale2 * dot(last 16)) (slots: scale, scale2)
//  SplitMins (Q2_K): scale * d_x * dot - min0 * S0 - min1 * S1, S_h = d_x * sum(x codes of half h), the
//          sub-block scales folded into the codes (scale * code, 0..45); slots: scale, and as int32 the
//          f16 bits of the min's scale dmin | m0 << 16 | m1 << 24 (min_h = dmin * m_h): four numbers per
//          block where the panel has room for two f32.
enum class Int8Kind { Plain, Mins, Halves, SplitMins };
Int8Kind gemm_int8_kind(WType t);
// kernels_more.h's types in the integer GEMMs (gemm_int8_more_avx512.cpp): their SIMD decoders feed the
// panel layout. repack_group_more writes group g (16 rows from r + 16 g, the rows past nrows repeating the
// last) of a panel of `groups` groups, blocks [b0, b0 + nb), as repack_int8_panel describes.
bool gemm_int8_more_type(WType t);
void repack_group_more(const Weight& w, int64_t r, int nrows, int groups, int g, int64_t b0, int64_t nb,
                       bool signed_codes, uint8_t* panel);
// AVX-512 VNNI GEMM for quantized weights and many tokens: rows [r0, r1) of y = x W^T.
void gemm_int8_avx512(const Weight& w, const Int8Acts& a, size_t n_tokens, int64_t r0, int64_t r1, float* y);

// AMX-INT8 (tdpbssd) GEMM: the VNNI GEMM's types, activations in the Tiles layout; rows
// [r0, r1) of y = x W^T. Loads this thread's tile configuration and releases it before returning; the
// process must hold AMX permission (amx_enable).
void gemm_int8_amx(const Weight& w, const Int8Acts& a, size_t n_tokens, int64_t r0, int64_t r1, float* y);

}  // namespace g4::kernels::impl

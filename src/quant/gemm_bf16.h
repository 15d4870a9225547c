#pragma once
// The bf16 GEMMs behind MatmulMath::Fast for float weights (F32/F16/BF16) and many tokens, x86-64 only:
// activations rounded to bf16 (round to nearest even), weights as stored for BF16 (F16 and F32 weights are
// rounded to bf16 when packed), products of bf16 pairs accumulated in f32.
//   AMX-BF16 (tdpbf16ps, gemm_bf16_amx.cpp): C = 32 tokens x 32 rows in four f32 tiles, kept in the tile
//     unit over a whole chunk of columns.
//   AVX-512 BF16 (vdpbf16ps, gemm_bf16_avx512.cpp): 8 tokens x 32 rows of f32 accumulators in registers,
//     for CPUs with AVX-512 BF16 and no AMX (AMD Zen 4/5).
// Both read the same operands:
//   activations (Bf16ActBuffer): tokens in tiles of 16 (the last padded with zero tokens), columns in
//     blocks of 32 (the last padded with zeros); per tile and block the 16 x 32 bf16 are contiguous
//     (1 KiB, the A operand of one tdpbf16ps): a[(tile * nkb + kb) * 512 + token * 32 + col].
//   weights (repack_bf16_panel): rows in groups of 16, per group and block 16 pair-rows of 16 rows' bf16
//     pairs (1 KiB, the B operand): element (row i, col 2p + j) at (group * nk + kb) * 512 + p * 32 + 2i + j.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/weight.h"

namespace g4::kernels::impl {

constexpr int kBf16TokenTile = 16;
constexpr int kBf16BlockElems = 512;  // bf16 per A or B block (16 x 32)

struct Bf16Acts {
  const uint16_t* a = nullptr;
  size_t n_tokens = 0;
  int64_t cols = 0, nkb = 0;  // nkb: 32-column blocks (cols rounded up)
  size_t n_tiles() const { return (n_tokens + kBf16TokenTile - 1) / kBf16TokenTile; }
};

// Activations rounded to bf16 in the layout above, owning their storage. Needs AVX-512 BF16.
class Bf16ActBuffer {
 public:
  void resize(size_t n_tokens, int64_t cols);
  // Converts token tiles [tile0, tile1) of x ([n_tokens][cols] f32), padding included.
  void prepare(const float* x, size_t tile0, size_t tile1);
  const Bf16Acts& acts() const { return acts_; }

 private:
  std::vector<uint16_t> store_;
  Bf16Acts acts_;
};

// Rows [r, r + nrows) (nrows <= 16 * groups; the rest zero) x blocks [kb0, kb0 + nk) of w (F32, F16 or
// BF16) as bf16 B blocks, into `panel` (64-byte aligned, groups * nk * 512 bf16). Needs AVX-512 BF16.
void repack_bf16_panel(const Weight& w, int64_t r, int nrows, int groups, int64_t kb0, int64_t nk, uint16_t* panel);

// Weights are repacked and multiplied a panel at a time: up to kBf16PanelRows rows x a chunk of at most
// kBf16MaxChunkBlocks blocks of columns (512 KiB, which stays in L2 while every token tile passes over it;
// 128 x 2048 and 256 x 1024 measured alike on Sapphire Rapids, Zen 5's L2 is 1 MiB). bf16_chunk_blocks
// splits a row's nkb blocks into equal chunks.
constexpr int kBf16PanelRows = 128;
constexpr int64_t kBf16MaxChunkBlocks = 64;
inline int64_t bf16_chunk_blocks(int64_t nkb) {
  const int64_t chunks = (nkb + kBf16MaxChunkBlocks - 1) / kBf16MaxChunkBlocks;
  return chunks > 0 ? (nkb + chunks - 1) / chunks : 1;
}

// Rows [r0, r1) of y = x W^T ([n_tokens][w.rows]) from prepared activations. The AMX one loads this
// thread's tile configuration and releases it before returning (the process must hold AMX permission).
void gemm_bf16_amx(const Weight& w, const Bf16Acts& a, int64_t r0, int64_t r1, float* y);
void gemm_bf16_avx512(const Weight& w, const Bf16Acts& a, int64_t r0, int64_t r1, float* y);

// Weight panels each bf16 GEMM has multiplied in this process (tests: proof that a path ran).
uint64_t bf16_panels_done(bool amx);
void add_bf16_panels(bool amx, uint64_t n);

}  // namespace g4::kernels::impl

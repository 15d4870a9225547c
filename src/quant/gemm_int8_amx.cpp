// Integer GEMM for quantized weights and many tokens (prefill, batched decode) with AMX-INT8 (tdpbssd).
//
// Numerics are those of the VNNI integer GEMM and of kernels::matmul_q8_scalar: activations quantized
// to int8 per 32 values, an exact integer dot product per 32-value block (per 16 for Q6_K and Q3_K, whose
// scales change every 16 values), then the block's weight scale times the activation scale applied in f32.
//
// Operands: A = 16 tokens x one block of their int8 codes, loaded straight from the activation buffer
// (Int8Layout::Tiles); B = the weight panel that repack_int8_panel builds (4 consecutive codes of 16 rows
// per 64-byte row, the tile unit's B layout), with signed codes so tdpbssd needs no offset correction.
// C = 16 tokens x 16 rows of int32, one block's dot products. Because every block has its own scales,
// each C tile is stored and scaled into f32 accumulators (16 zmm, one per token) by AVX-512.
//
// What bounds it (measured on Sapphire Rapids): a tdpbssd with K = 32 takes as long as one with K = 64,
// tile loads, products and stores execute in order, and the core's floating-point units stall while the
// tile unit multiplies (integer vector operations overlap, FMAs and conversions do not). So each 16x16x32
// block costs a product, a 1 KiB tile store and 3 FP operations per 16 outputs, which leaves this GEMM
// 1.1-1.3x faster than the VNNI one for Q4_0/Q8_0 and about equal for Q4_K/Q5_K (whose mins cost a
// fourth operation), and 3-4x faster than the BF16 GEMM for Q6_K. The per-32-value activation scales of
// the numerics we must match are what forbid accumulating several blocks inside the tile unit.
//
// A panel (32 rows x up to 2048 columns, 80 KiB) is repacked once and then every 16-token tile runs over
// it while it is in L2, so repacking is paid once per weight per call whatever the token count.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

#include "quant/amx_tiles.h"
#include "quant/kernels_impl.h"

// The target options come after every header, so that no standard-library or project inline function is
// compiled for a wider ISA than the binary: the linker keeps one of the identical-named copies from all
// objects, and an AVX-512 copy would fault on a CPU without it.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8")
#endif

namespace g4::kernels {

namespace {
std::atomic<uint64_t> g_amx_panels{0};
}

uint64_t amx_panels_done() { return g_amx_panels.load(std::memory_order_relaxed); }

}  // namespace g4::kernels

namespace g4::kernels::impl {

namespace {

constexpr int kLanes = kInt8PanelLanes;
constexpr int kGroups = 2;  // 32 rows per panel
constexpr int kPanelRows = kLanes * kGroups;
constexpr int kGB = kInt8GroupBlockBytes;
constexpr int kTok = int(kAmxTokenTile);
constexpr int64_t kChunk = kInt8ChunkBlocks;  // blocks of a panel (smaller panels measured slower)

// How the per-block int32 dot products become f32.
enum class Kind {
  Plain,   // Q4_0, Q8_0: scale * d_x * dot
  Mins,    // Q4_K, Q5_K: scale * d_x * dot - min * (d_x * sum(x codes))
  Halves,  // Q6_K, Q3_K: d_x * (scale0 * dot(first 16) + scale1 * dot(last 16))
  SplitMins,  // Q2_K: scale * d_x * dot - min0 * S0 - min1 * S1 (Int8Kind::SplitMins)
};

Kind kind_of(WType t) {
  switch (gemm_int8_kind(t)) {
    case Int8Kind::Mins: return Kind::Mins;
    case Int8Kind::Halves: return Kind::Halves;
    case Int8Kind::SplitMins: return Kind::SplitMins;
    default: return Kind::Plain;
  }
}

// tmm0, 1, 6, 7: C (16 tokens x 16 int32); tmm2, tmm3: A (16 tokens x K bytes); tmm4, tmm5: B (K/4 x 64
// bytes). K is 32 (one block) or, for Q6_K, 16 (half a block).
void configure_tiles(Kind k) {
  AmxTileConfig cfg;
  const int kb = k == Kind::Halves ? 16 : 32;
  for (int t : {0, 1, 6, 7}) cfg.rows[t] = kTok, cfg.colsb[t] = 64;
  for (int t : {2, 3}) cfg.rows[t] = kTok, cfg.colsb[t] = uint16_t(kb);
  for (int t : {4, 5}) cfg.rows[t] = uint8_t(kb / 4), cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
}

// acc[t] += (C[t] scaled) for the NT first tokens of the tile; c holds C (and for Halves, C of the second
// half 256 int32 later). xd / xs: the tile's 16 d and d * sum(codes) of this block; xs2 (SplitMins): the
// 16 d * sum(codes) of the block's first half, then the 16 of its second.
template <int NT, Kind K>
__attribute__((always_inline)) inline void scale_block(const int32_t* c, const uint8_t* pb, const float* xd,
                                                       const float* xs, const float* xs2, __m512* acc) {
  const __m512 w0 = _mm512_load_ps(pb + kInt8CodeBytes);
  __m512 w1, m1;
  if constexpr (K == Kind::SplitMins) {
    // The packed mins (see Int8Kind::SplitMins): dmin f16 | m0 << 16 | m1 << 24.
    const __m512i p = _mm512_load_si512(pb + kInt8CodeBytes + 64);
    const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(p));
    w1 = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(p, 16), _mm512_set1_epi32(0xff))));
    m1 = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(p, 24)));
  } else {
    w1 = _mm512_load_ps(pb + kInt8CodeBytes + 64);
    m1 = _mm512_setzero_ps();
  }
  #pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
    const __m512 dx = _mm512_set1_ps(xd[t]);
    const __m512 p0 = _mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * t));
    if constexpr (K == Kind::SplitMins) {
      acc[t] = _mm512_fmadd_ps(p0, _mm512_mul_ps(w0, dx), acc[t]);
      acc[t] = _mm512_fnmadd_ps(w1, _mm512_set1_ps(xs2[t]), acc[t]);
      acc[t] = _mm512_fnmadd_ps(m1, _mm512_set1_ps(xs2[kTok + t]), acc[t]);
    } else if constexpr (K == Kind::Halves) {
      const __m512 p1 = _mm512_cvtepi32_ps(_mm512_load_si512(c + 256 + 16 * t));
      acc[t] = _mm512_fmadd_ps(_mm512_fmadd_ps(p1, w1, _mm512_mul_ps(p0, w0)), dx, acc[t]);
    } else {
      acc[t] = _mm512_fmadd_ps(p0, _mm512_mul_ps(w0, dx), acc[t]);
      if constexpr (K == Kind::Mins) acc[t] = _mm512_fnmadd_ps(w1, _mm512_set1_ps(xs[t]), acc[t]);
    }
  }
}

// Block k of a 16-token tile x 16-row group: its A tile (the tokens' codes) and B tile (the panel's
// codes) are loaded into tiles 2 / 4 or 3 / 5 by the parity of k, its product goes to C tile
// {0, 1, 6, 7}[k % 4] and is stored to ring[k % 8].
constexpr int c_tile(int i) { return i == 0 ? 0 : i == 1 ? 1 : i == 2 ? 6 : 7; }

// The compilers' _tile_* intrinsics need literal tile numbers; these take template constants.
template <int T>
inline void tile_load(const void* base, size_t stride) {
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm%c2" : : "r"(base), "r"(stride), "i"(T) : "memory");
}
template <int T>
inline void tile_store(void* base, size_t stride) {
  __asm__ volatile("tilestored %%tmm%c2, (%0,%1,1)" : : "r"(base), "r"(stride), "i"(T) : "memory");
}
template <int T>
inline void tile_zero() {
  __asm__ volatile("tilezero %%tmm%c0" : : "i"(T));
}
template <int C, int A, int B>
inline void tile_dpbssd() {
  __asm__ volatile("tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0" : : "i"(C), "i"(A), "i"(B));
}

template <int I>
inline void dp_block(const int8_t* aq, const uint8_t* pb) {
  constexpr int kC = c_tile(I & 3), kA = 2 + (I & 1), kB = 4 + (I & 1);
  tile_load<kA>(aq, 32);
  tile_load<kB>(pb, 64);
  tile_zero<kC>();
  tile_dpbssd<kC, kA, kB>();
}

template <int I>
inline void store_block(int32_t* out) {
  tile_store<c_tile(I & 3)>(out, 64);
}

// Block k (k >= 0, k < nb) into C tile {0, 1, 6, 7}[k % 4]; the switch picks the instruction's literal
// tile numbers and is predicted perfectly.
inline void dp_any(int64_t k, const int8_t* aq, const uint8_t* pb) {
  switch (k & 3) {
    case 0: return dp_block<0>(aq, pb);
    case 1: return dp_block<1>(aq, pb);
    case 2: return dp_block<2>(aq, pb);
    default: return dp_block<3>(aq, pb);
  }
}

inline void store_any(int64_t k, int32_t* out) {
  switch (k & 3) {
    case 0: return store_block<0>(out);
    case 1: return store_block<1>(out);
    case 2: return store_block<2>(out);
    default: return store_block<3>(out);
  }
}

// Q6_K: block k's two halves into C tiles 0 / 1 (k even) or 6 / 7 (k odd).
template <int C0, int C1>
inline void dp_halves(const int8_t* aq, const uint8_t* pb) {
  tile_load<2>(aq, 32);
  tile_load<3>(aq + 16, 32);
  tile_load<4>(pb, 64);
  tile_load<5>(pb + 256, 64);
  tile_zero<C0>();
  tile_zero<C1>();
  tile_dpbssd<C0, 2, 4>();
  tile_dpbssd<C1, 3, 5>();
}

// The work on one repacked panel: every 16-token tile times every 16-row group ("units", tile-major),
// each over the panel's nb blocks.
struct PanelJob {
  const uint8_t* panel;
  int64_t nb;
  int groups;
  const int8_t* q;            // tile 0's codes at the panel's first block (Tiles layout)
  const float* d;             // tile 0's d at the panel's first block
  const float* s;             // tile 0's d * sum(codes) at the panel's first block
  const float* s2;            // tile 0's d * sum(codes) per half at the panel's first block (SplitMins)
  size_t tile_stride;         // d / s elements from one tile to the next (q: x 32 bytes)
  float* y;                   // y at the panel's first row, token 0
  size_t ldy;
  int n_tiles, nt_last;       // tiles; valid tokens of the last one
  const __mmask16* mask;      // valid rows per group
  bool first;                 // the panel's first chunk of columns (y is written, not accumulated)
  PanelPrefetch* pf;          // the next panel's weights, one step per block scaled
};

// Multiplies a whole panel job. Tile instructions execute in order and a C tile can be stored only once
// its product is complete, so the blocks are software-pipelined over the whole job, across unit
// boundaries so that the pipeline never drains: while block j of the sequence (units x blocks) is scaled
// into the f32 accumulators (AVX-512), block j + kLag is stored and block j + kLag + 1 multiplied.
// ring[j % 8] holds block j's products. NT: tokens scaled per tile (16, or the single tile's count
// rounded up to 4).
template <int NT, Kind K>
void run_panel(const PanelJob& job) {
  constexpr int kLag = K == Kind::Halves ? 1 : 2;
  alignas(64) int32_t ring[8][K == Kind::Halves ? 512 : 256];
  const int64_t nb = job.nb;
  const int units = job.n_tiles * job.groups;
  const size_t pstride = size_t(kGroups) * kGB;
  // Unit u: tile u / groups, row group u % groups.
  auto unit_a = [&job](int u) { return job.q + size_t(u / job.groups) * job.tile_stride * 32; };
  auto unit_b = [&job](int u) { return job.panel + size_t(u % job.groups) * kGB; };
  auto multiply = [&](int u, int64_t k, int64_t j) {
    const int8_t* a = unit_a(u) + 512 * k;
    const uint8_t* b = unit_b(u) + size_t(k) * pstride;
    if constexpr (K == Kind::Halves) {
      if (j & 1) dp_halves<6, 7>(a, b);
      else dp_halves<0, 1>(a, b);
    } else {
      dp_any(j, a, b);
    }
  };
  auto store = [&ring](int64_t j) {
    int32_t* out = ring[j & 7];
    if constexpr (K == Kind::Halves) {
      if (j & 1) {
        tile_store<6>(out, 64);
        tile_store<7>(out + 256, 64);
      } else {
        tile_store<0>(out, 64);
        tile_store<1>(out + 256, 64);
      }
    } else {
      store_any(j, out);
    }
  };
  // Prologue: the first kLag + 1 blocks of the sequence multiplied, the first kLag stored.
  {
    int u = 0;
    int64_t k = 0;
    for (int64_t j = 0; j <= kLag && u < units; ++j) {
      multiply(u, k, j);
      if (++k == nb) k = 0, ++u;
    }
    for (int64_t j = 0; j < kLag && j < int64_t(units) * nb; ++j) store(j);
  }
  __m512 acc[NT];
  int64_t j = 0;  // sequence number of the block being scaled
  // The multiply and store stages run ahead of the scale stage: (ud, kd) and (us, ks).
  int ud = int((kLag + 1) / nb), us = int(kLag / nb);
  int64_t kd = (kLag + 1) % nb, ks = kLag % nb;
  for (int u = 0; u < units; ++u) {
    const int tile = u / job.groups, g = u % job.groups;
    const int nt = tile + 1 == job.n_tiles ? job.nt_last : kTok;
    float* yu = job.y + size_t(tile) * kTok * job.ldy + size_t(kLanes * g);
    const __mmask16 mask = job.mask[g];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t)
      acc[t] = job.first || t >= nt ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, yu + size_t(t) * job.ldy);
    const uint8_t* pb = unit_b(u);
    const size_t x0 = size_t(tile) * job.tile_stride;
    for (int64_t k = 0; k < nb; ++k, ++j) {
      if (ud < units) {
        multiply(ud, kd, j + kLag + 1);
        if (++kd == nb) kd = 0, ++ud;
      }
      if (us < units) {
        store(j + kLag);
        if (++ks == nb) ks = 0, ++us;
      }
      job.pf->step();
      const size_t xo = x0 + size_t(k) * kTok;
      scale_block<NT, K>(ring[j & 7], pb + size_t(k) * pstride, job.d + xo, job.s + xo, job.s2 + 2 * xo, acc);
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t)
      if (t < nt) _mm512_mask_storeu_ps(yu + size_t(t) * job.ldy, mask, acc[t]);
  }
}

using PanelFn = void (*)(const PanelJob&);

template <Kind K>
constexpr std::array<PanelFn, 4> panel_table() {
  return {run_panel<4, K>, run_panel<8, K>, run_panel<12, K>, run_panel<16, K>};
}

struct AlignedPanel {
  std::vector<uint8_t> store;
  uint8_t* get(size_t bytes) {
    store.resize(bytes + 64);
    return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
  }
};

}  // namespace

void gemm_int8_amx(const Weight& w, const Int8Acts& a, size_t n_tokens, int64_t r0, int64_t r1, float* y) {
  static constexpr auto plain = panel_table<Kind::Plain>();
  static constexpr auto mins = panel_table<Kind::Mins>();
  static constexpr auto halves = panel_table<Kind::Halves>();
  static constexpr auto split = panel_table<Kind::SplitMins>();
  const Kind kind = kind_of(w.type);
  const auto& table = kind == Kind::Plain ? plain : kind == Kind::Mins ? mins : kind == Kind::Halves ? halves : split;
  const int64_t nb_total = w.cols / 32;
  const size_t nbt = size_t(a.nb);
  const int n_tiles = int((n_tokens + kTok - 1) / kTok);
  const int nt_last = int(n_tokens - size_t(n_tiles - 1) * kTok);
  // Whole tiles scale all 16 tokens; a partial last tile runs as a job of its own that scales only its
  // tokens (rounded up to 4).
  const int full = nt_last == kTok ? n_tiles : n_tiles - 1;
  const PanelFn fn_last = table[size_t((nt_last + 3) / 4 - 1)];
  static thread_local AlignedPanel panel_store;
  PanelPrefetch pf;
  uint8_t* panel = panel_store.get(size_t(kChunk) * kGroups * kGB);
  configure_tiles(kind);
  uint64_t panels = 0;
  for (int64_t r = r0; r < r1; r += kPanelRows) {
    const int nrows = int(std::min<int64_t>(kPanelRows, r1 - r));
    const int groups = (nrows + kLanes - 1) / kLanes;
    __mmask16 mask[kGroups];
    for (int g = 0; g < kGroups; ++g) mask[g] = __mmask16((1u << std::clamp(nrows - kLanes * g, 0, kLanes)) - 1);
    for (int64_t b0 = 0; b0 < nb_total; b0 += kChunk) {
      const int64_t nb = std::min<int64_t>(kChunk, nb_total - b0);
      repack_int8_panel(w, r, nrows, kGroups, b0, nb, true, panel);
      // The next panel's weights are fetched while this one is multiplied.
      const int64_t steps = int64_t(n_tiles) * groups * nb;
      if (b0 + kChunk < nb_total)
        pf.start(w, r, nrows, b0 + kChunk, std::min<int64_t>(kChunk, nb_total - b0 - kChunk), steps);
      else
        pf.start(w, r + kPanelRows, int(std::clamp<int64_t>(r1 - r - kPanelRows, 0, kPanelRows)), 0,
                 std::min<int64_t>(kChunk, nb_total), steps);
      const size_t at = size_t(b0) * kTok;  // tile 0's first block of the panel
      const size_t tile_stride = nbt * kTok;
      PanelJob job{panel,       nb,           groups, a.q + at * 32, a.d + at, a.s + at, a.s2 + 2 * at,
                   tile_stride, y + size_t(r), size_t(w.rows), full, kTok, mask, b0 == 0, &pf};
      if (full > 0) table[3](job);
      if (full < n_tiles) {
        const size_t last = size_t(full) * tile_stride;
        job.q += last * 32;
        job.d += last;
        job.s += last;
        job.s2 += 2 * last;
        job.y += size_t(full) * kTok * size_t(w.rows);
        job.n_tiles = 1;
        job.nt_last = nt_last;
        fn_last(job);
      }
      pf.finish();
      ++panels;
    }
  }
  _tile_release();
  g_amx_panels.fetch_add(panels, std::memory_order_relaxed);
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

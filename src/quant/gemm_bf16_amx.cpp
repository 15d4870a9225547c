// The AMX-BF16 GEMM (tdpbf16ps) behind MatmulMath::Fast for float weights; operands in gemm_bf16.h.
//
// Tiles: C = tmm0..3 (two 16-token strips x two 16-row groups, f32), A = tmm4, 5 (each strip's 16 tokens
// x 32 columns), B = tmm6, 7 (each group's 16 pair-rows x 16 rows); all 16 rows x 64 bytes. Per 32
// columns: four tile loads and four products, the C tiles staying in the tile unit over a whole chunk of
// columns (unlike the integer GEMM, whose per-block scales make it store every product). Loops, outermost
// first: panels of 128 rows, chunks of up to 2048 columns (the repacked panel, 512 KiB, stays in L2), pairs
// of 16-token tiles (their chunk of activations, up to 128 KiB, prefetched into L2 during the pair
// before), the panel's 32-row groups. The next panel's weights are prefetched likewise.
//
// A C tile that covers 16 valid tokens and 16 valid rows goes between y and the tile unit directly (loaded
// from y for the later chunks of a row); an edge tile starts from zero and is added into y through a
// scratch tile, so nothing beyond the caller's rows and tokens is written.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "quant/amx_tiles.h"
#include "quant/gemm_bf16.h"
#include "quant/kernels_impl.h"

// The target options come after every header (see kernels_avx512.cpp).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")
#endif

namespace g4::kernels::impl {

namespace {

constexpr int kTok = kBf16TokenTile;
constexpr int kBlk = kBf16BlockElems;
constexpr int kPanelRows = kBf16PanelRows;

void configure_tiles() {
  AmxTileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
}

// The tile intrinsics take literal tile numbers only.
template <int T>
inline void c_load(const float* p, size_t stride) {
  if constexpr (T == 0) _tile_loadd(0, p, stride);
  else if constexpr (T == 1) _tile_loadd(1, p, stride);
  else if constexpr (T == 2) _tile_loadd(2, p, stride);
  else _tile_loadd(3, p, stride);
}
template <int T>
inline void c_store(float* p, size_t stride) {
  if constexpr (T == 0) _tile_stored(0, p, stride);
  else if constexpr (T == 1) _tile_stored(1, p, stride);
  else if constexpr (T == 2) _tile_stored(2, p, stride);
  else _tile_stored(3, p, stride);
}
template <int T>
inline void c_zero() {
  if constexpr (T == 0) _tile_zero(0);
  else if constexpr (T == 1) _tile_zero(1);
  else if constexpr (T == 2) _tile_zero(2);
  else _tile_zero(3);
}

// One C tile's place in y: nt valid tokens x nr valid rows from y (row stride ldy floats).
struct CTile {
  float* y;
  int nt, nr;
  bool full() const { return nt == kTok && nr == 16; }
};

template <int T>
inline void c_begin(const CTile& c, size_t ldy, bool first) {
  if (!first && c.full()) c_load<T>(c.y, ldy * sizeof(float));
  else c_zero<T>();
}

template <int T>
inline void c_end(const CTile& c, size_t ldy, bool first, float* scratch) {
  if (c.full()) return c_store<T>(c.y, ldy * sizeof(float));
  if (c.nt <= 0 || c.nr <= 0) return;
  c_store<T>(scratch, 64);
  const __mmask16 m = __mmask16((1u << c.nr) - 1);
  for (int t = 0; t < c.nt; ++t) {
    float* yt = c.y + size_t(t) * ldy;
    __m512 v = _mm512_load_ps(scratch + 16 * t);
    if (!first) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, yt));
    _mm512_mask_storeu_ps(yt, m, v);
  }
}

// The next pair of token tiles' activations (two ranges of `lines` 64-byte lines) brought into L2 a few
// lines per block multiplied: tile loads execute in order, so one that misses L2 stalls the tile unit, and
// with thousands of tokens the activations of a chunk no longer fit in L2.
struct ActPrefetch {
  const char* p0 = nullptr;
  const char* p1 = nullptr;
  int64_t lines = 0, next = 0, per_step = 0;
  void step() {
    for (const int64_t end = std::min(lines, next + per_step); next < end; ++next) {
      _mm_prefetch(p0 + 64 * next, _MM_HINT_T1);
      _mm_prefetch(p1 + 64 * next, _MM_HINT_T1);
    }
  }
};

// C[s][g] (+)= A_s B_g over nk blocks: a = strip 0's first block (strip 1 a_strip elements on), b = group
// 0's first block (group 1 nk blocks on). S: strips (1 or 2). c: C[0][0], C[0][1], C[1][0], C[1][1]. pf
// takes a step per block.
template <int S>
void unit(const uint16_t* a, size_t a_strip, const uint16_t* b, int64_t nk, const CTile* c, size_t ldy, bool first,
          float* scratch, PanelPrefetch& pf, ActPrefetch& ap) {
  // GCC's tileloadd asm does not declare that it reads memory: y, the panel and the activations must be
  // in memory before the tile loads.
  __asm__ volatile("" ::: "memory");
  c_begin<0>(c[0], ldy, first);
  c_begin<1>(c[1], ldy, first);
  if constexpr (S == 2) {
    c_begin<2>(c[2], ldy, first);
    c_begin<3>(c[3], ldy, first);
  }
  const uint16_t* b1 = b + size_t(nk) * kBlk;
  for (int64_t k = 0; k < nk; ++k) {
    const size_t o = size_t(k) * kBlk;
    pf.step();
    ap.step();
    _tile_loadd(4, a + o, 64);
    _tile_loadd(6, b + o, 64);
    _tile_loadd(7, b1 + o, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (S == 2) {
      _tile_loadd(5, a + a_strip + o, 64);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  c_end<0>(c[0], ldy, first, scratch);
  c_end<1>(c[1], ldy, first, scratch);
  if constexpr (S == 2) {
    c_end<2>(c[2], ldy, first, scratch);
    c_end<3>(c[3], ldy, first, scratch);
  }
}

struct AlignedPanel {
  std::vector<uint16_t> store;
  uint16_t* get(size_t elems) {
    store.resize(elems + 32);
    return reinterpret_cast<uint16_t*>((reinterpret_cast<uintptr_t>(store.data()) + 63) & ~uintptr_t(63));
  }
};

}  // namespace

void gemm_bf16_amx(const Weight& w, const Bf16Acts& a, int64_t r0, int64_t r1, float* y) {
  const int64_t nkb = a.nkb, chunk = bf16_chunk_blocks(nkb);
  const size_t ldy = size_t(w.rows), n_tiles = a.n_tiles(), strip = size_t(nkb) * kBlk;
  static thread_local AlignedPanel panel_store;
  uint16_t* panel = panel_store.get(size_t(kPanelRows / 16) * size_t(chunk) * kBlk);
  alignas(64) float scratch[16 * 16];
  PanelPrefetch pf;
  configure_tiles();
  uint64_t panels = 0;
  for (int64_t rb = r0; rb < r1; rb += kPanelRows) {
    const int nrows = int(std::min<int64_t>(kPanelRows, r1 - rb));
    const int pairs = (nrows + 31) / 32;  // 32-row groups
    for (int64_t kb0 = 0; kb0 < nkb; kb0 += chunk) {
      const int64_t nk = std::min(chunk, nkb - kb0);
      const bool first = kb0 == 0;
      repack_bf16_panel(w, rb, nrows, 2 * pairs, kb0, nk, panel);
      // The next panel's weights are fetched into L2 while this one is multiplied: repacking from memory
      // cost as much as the products at 512 tokens.
      const int64_t steps = int64_t((n_tiles + 1) / 2) * pairs * nk;
      if (kb0 + chunk < nkb)
        pf.start(w, rb, nrows, kb0 + chunk, std::min(chunk, nkb - kb0 - chunk), steps);
      else
        pf.start(w, rb + kPanelRows, int(std::clamp<int64_t>(r1 - rb - kPanelRows, 0, kPanelRows)), 0,
                 std::min(chunk, nkb), steps);
      for (size_t tile = 0; tile < n_tiles; tile += 2) {
        const uint16_t* at = a.a + (tile * size_t(nkb) + size_t(kb0)) * kBlk;
        const bool two = tile + 1 < n_tiles;
        const int nt0 = int(std::min<size_t>(kTok, a.n_tokens - tile * kTok));
        const int nt1 = two ? int(std::min<size_t>(kTok, a.n_tokens - (tile + 1) * kTok)) : 0;
        ActPrefetch ap;
        if (tile + 2 < n_tiles) {
          ap.p0 = reinterpret_cast<const char*>(at + 2 * strip);
          ap.p1 = tile + 3 < n_tiles ? ap.p0 + 2 * strip : ap.p0;
          ap.lines = nk * kBlk * 2 / 64;
          ap.per_step = (ap.lines + pairs * nk - 1) / (pairs * nk);
        }
        for (int sp = 0; sp < pairs; ++sp) {
          const int nr0 = std::clamp(nrows - 32 * sp, 0, 16), nr1 = std::clamp(nrows - 32 * sp - 16, 0, 16);
          float* yt = y + tile * kTok * ldy + size_t(rb + 32 * sp);
          float* yt1 = two ? yt + kTok * ldy : yt;  // strip 1 (only when there is one)
          const CTile c[4] = {{yt, nt0, nr0}, {yt + 16, nt0, nr1}, {yt1, nt1, nr0}, {yt1 + 16, nt1, nr1}};
          const uint16_t* b = panel + size_t(2 * sp) * size_t(nk) * kBlk;
          if (two) unit<2>(at, strip, b, nk, c, ldy, first, scratch, pf, ap);
          else unit<1>(at, strip, b, nk, c, ldy, first, scratch, pf, ap);
        }
      }
      pf.finish();
      ++panels;
    }
  }
  _tile_release();
  add_bf16_panels(true, panels);
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

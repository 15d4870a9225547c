// The operands of the bf16 GEMMs (activations rounded to bf16, weight panels in the pair layout; see
// gemm_bf16.h) and the GEMM for CPUs with AVX-512 BF16 but no AMX (vdpbf16ps).
//
// Micro-kernel: 8 tokens x 32 rows (two 16-row groups) of f32 accumulators in 16 registers; per pair of
// columns, the two groups' 64-byte weight rows are loaded once and each token's bf16 pair is broadcast from
// memory into the dot product (vdpbf16ps zmm, zmm, m32{1to16}). Loops, outermost first: panels of 128 rows,
// chunks of up to 2048 columns (the repacked panel, 512 KiB, stays in L2), 16-token tiles (up to 64 KiB
// of activations), 32-row groups of the panel, the two 8-token halves of the tile.
// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "quant/gemm_bf16.h"
#include "quant/kernels_impl.h"
#include "quant/simd_math.h"

// The target options come after every header, so that no standard-library or project inline function is
// compiled for a wider ISA than the binary (see kernels_avx512.cpp).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#endif

namespace g4::kernels::impl {

namespace {

std::atomic<uint64_t> g_panels[2];  // [0]: AVX-512 BF16, [1]: AMX

constexpr int kTok = kBf16TokenTile;
constexpr int kBlk = kBf16BlockElems;
constexpr int kPanelRows = kBf16PanelRows;

__mmask16 lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

// 32 values of a row from column c0 (zeros past the row's end) as bf16.
template <WType T>
inline __m512i load32(const uint8_t* row, int64_t c0, int64_t cols) {
  const int64_t left = cols - c0;
  if constexpr (T == WType::BF16) {
    const __mmask32 m = left >= 32 ? ~__mmask32(0) : __mmask32((1u << left) - 1);
    return _mm512_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + c0);
  } else {
    __m512 lo, hi;
    if constexpr (T == WType::F16) {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(row) + c0;
      lo = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes(left), p));
      hi = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes(left - 16), p + 16));
    } else {
      const float* p = reinterpret_cast<const float*>(row) + c0;
      lo = _mm512_maskz_loadu_ps(lanes(left), p);
      hi = _mm512_maskz_loadu_ps(lanes(left - 16), p + 16);
    }
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // round to nearest even; lo in the low half
  }
}

template <WType T>
void repack(const Weight& w, int64_t r, int nrows, int groups, int64_t kb0, int64_t nk, uint16_t* panel) {
  const size_t row_bytes = w.row_bytes();
  for (int g = 0; g < groups; ++g) {
    for (int64_t kb = 0; kb < nk; ++kb) {
      __m512i v[16];
      const int valid = std::clamp(nrows - 16 * g, 0, 16);
      const uint8_t* row0 = w.data + size_t(r + 16 * g) * row_bytes;
      #pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        v[i] = i < valid ? load32<T>(row0 + size_t(i) * row_bytes, (kb0 + kb) * 32, w.cols) : _mm512_setzero_si512();
      // Row i's pair p to B row p, lane i.
      simd::transpose16x16_epi32(v);
      uint16_t* out = panel + size_t(g * nk + kb) * kBlk;
      for (int p = 0; p < 16; ++p) _mm512_store_si512(out + 32 * p, v[p]);
    }
  }
}

constexpr int kMt = 8;  // tokens per micro-kernel call

// y[t][0..32) (masks m0 / m1 for the two groups' valid rows, first nt tokens) = (first ? 0 : y) + the
// tokens' activations a (tile rows, block 0 of the chunk) times the two groups' blocks b0 / b1 over nk.
void micro(const uint16_t* a, const uint16_t* b0, const uint16_t* b1, int64_t nk, float* y, size_t ldy, int nt,
           __mmask16 m0, __mmask16 m1, bool first) {
  __m512 c0[kMt], c1[kMt];
  #pragma GCC unroll 8
  for (int t = 0; t < kMt; ++t) {
    const bool load = !first && t < nt;
    c0[t] = load ? _mm512_maskz_loadu_ps(m0, y + size_t(t) * ldy) : _mm512_setzero_ps();
    c1[t] = load ? _mm512_maskz_loadu_ps(m1, y + size_t(t) * ldy + 16) : _mm512_setzero_ps();
  }
  for (int64_t kb = 0; kb < nk; ++kb) {
    const uint16_t* ak = a + size_t(kb) * kBlk;
    const uint16_t* bk0 = b0 + size_t(kb) * kBlk;
    const uint16_t* bk1 = b1 + size_t(kb) * kBlk;
    for (int p = 0; p < 16; ++p) {
      const __m512bh w0 = (__m512bh)_mm512_load_si512(bk0 + 32 * p);
      const __m512bh w1 = (__m512bh)_mm512_load_si512(bk1 + 32 * p);
      #pragma GCC unroll 8
      for (int t = 0; t < kMt; ++t) {
        int32_t pair;
        std::memcpy(&pair, ak + 32 * t + 2 * p, 4);
        const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
        c0[t] = _mm512_dpbf16_ps(c0[t], xv, w0);
        c1[t] = _mm512_dpbf16_ps(c1[t], xv, w1);
      }
    }
  }
  #pragma GCC unroll 8
  for (int t = 0; t < kMt; ++t) {
    if (t >= nt) break;
    _mm512_mask_storeu_ps(y + size_t(t) * ldy, m0, c0[t]);
    _mm512_mask_storeu_ps(y + size_t(t) * ldy + 16, m1, c1[t]);
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

void Bf16ActBuffer::resize(size_t n_tokens, int64_t cols) {
  acts_.n_tokens = n_tokens;
  acts_.cols = cols;
  acts_.nkb = (cols + 31) / 32;
  const size_t elems = acts_.n_tiles() * size_t(acts_.nkb) * kBlk;
  if (store_.size() < elems + 32) store_.resize(elems + 32);
  acts_.a = reinterpret_cast<const uint16_t*>((reinterpret_cast<uintptr_t>(store_.data()) + 63) & ~uintptr_t(63));
}

void Bf16ActBuffer::prepare(const float* x, size_t tile0, size_t tile1) {
  uint16_t* base = const_cast<uint16_t*>(acts_.a);
  const int64_t cols = acts_.cols, nkb = acts_.nkb;
  for (size_t tile = tile0; tile < tile1; ++tile) {
    for (int i = 0; i < kTok; ++i) {
      const size_t t = tile * kTok + size_t(i);
      uint16_t* dst = base + tile * size_t(nkb) * kBlk + size_t(32 * i);
      for (int64_t kb = 0; kb < nkb; ++kb, dst += kBlk) {
        if (t >= acts_.n_tokens) {
          _mm512_store_si512(dst, _mm512_setzero_si512());
          continue;
        }
        const float* src = x + t * size_t(cols) + size_t(kb * 32);
        const int64_t left = cols - kb * 32;
        const __m512 lo = _mm512_maskz_loadu_ps(lanes(left), src), hi = _mm512_maskz_loadu_ps(lanes(left - 16), src + 16);
        _mm512_store_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
      }
    }
  }
}

void repack_bf16_panel(const Weight& w, int64_t r, int nrows, int groups, int64_t kb0, int64_t nk, uint16_t* panel) {
  switch (w.type) {
    case WType::BF16: return repack<WType::BF16>(w, r, nrows, groups, kb0, nk, panel);
    case WType::F16: return repack<WType::F16>(w, r, nrows, groups, kb0, nk, panel);
    default: return repack<WType::F32>(w, r, nrows, groups, kb0, nk, panel);
  }
}

uint64_t bf16_panels_done(bool amx) { return g_panels[amx ? 1 : 0].load(std::memory_order_relaxed); }
void add_bf16_panels(bool amx, uint64_t n) { g_panels[amx ? 1 : 0].fetch_add(n, std::memory_order_relaxed); }

void gemm_bf16_avx512(const Weight& w, const Bf16Acts& a, int64_t r0, int64_t r1, float* y) {
  const int64_t nkb = a.nkb, chunk = bf16_chunk_blocks(nkb);
  const size_t ldy = size_t(w.rows), n_tiles = a.n_tiles();
  static thread_local AlignedPanel panel_store;
  uint16_t* panel = panel_store.get(size_t(kPanelRows / 16) * size_t(chunk) * kBlk);
  uint64_t panels = 0;
  PanelPrefetch pf;
  for (int64_t rb = r0; rb < r1; rb += kPanelRows) {
    const int nrows = int(std::min<int64_t>(kPanelRows, r1 - rb));
    const int pairs = (nrows + 31) / 32;  // 32-row groups
    for (int64_t kb0 = 0; kb0 < nkb; kb0 += chunk) {
      const int64_t nk = std::min(chunk, nkb - kb0);
      repack_bf16_panel(w, rb, nrows, 2 * pairs, kb0, nk, panel);
      // The next panel's weights are fetched into L2 while this one is multiplied (as in the AMX GEMM).
      const int64_t steps = int64_t(n_tiles) * pairs * 2;
      if (kb0 + chunk < nkb)
        pf.start(w, rb, nrows, kb0 + chunk, std::min(chunk, nkb - kb0 - chunk), steps);
      else
        pf.start(w, rb + kPanelRows, int(std::clamp<int64_t>(r1 - rb - kPanelRows, 0, kPanelRows)), 0,
                 std::min(chunk, nkb), steps);
      for (size_t tile = 0; tile < n_tiles; ++tile) {
        const uint16_t* at = a.a + (tile * size_t(nkb) + size_t(kb0)) * kBlk;
        for (int sp = 0; sp < pairs; ++sp) {
          const uint16_t* b0 = panel + size_t(2 * sp) * size_t(nk) * kBlk;
          const __mmask16 m0 = lanes(nrows - 32 * sp), m1 = lanes(nrows - 32 * sp - 16);
          for (int half = 0; half < kTok / kMt; ++half) {
            const size_t t0 = tile * kTok + size_t(half * kMt);
            if (t0 >= a.n_tokens) break;
            const int nt = int(std::min<size_t>(kMt, a.n_tokens - t0));
            pf.step();
            micro(at + size_t(half * kMt * 32), b0, b0 + size_t(nk) * kBlk, nk, y + t0 * ldy + size_t(rb + 32 * sp),
                  ldy, nt, m0, m1, kb0 == 0);
          }
        }
      }
      pf.finish();
      ++panels;
    }
  }
  add_bf16_panels(false, panels);
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

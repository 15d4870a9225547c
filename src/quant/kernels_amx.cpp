// AMX-BF16 prefill for quantized weights.
//
// C^T[rows x tokens] = W[rows x K] . X^T: weight rows are the A operand (dequantized to bf16 in their
// natural row layout, 32 rows per panel, once per call), the activations are the B operand (converted to
// bf16 in the VNNI pair layout once per call), and f32 result tiles are transposed into y. Products are
// exact in the tile unit and accumulate in f32; weights and activations are rounded to bf16 (a smaller
// error than the 8-bit activation quantization of the integer paths).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")
#endif

// GCC 12's AVX-512 intrinsics (casts, reductions) trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/blocks.h"
#include "quant/kernels_impl.h"

namespace g4::kernels::impl {

namespace {
using namespace blocks;

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void configure_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

struct AlignedBuf {
  void* p = nullptr;
  size_t n = 0;
  ~AlignedBuf() { std::free(p); }
  void* get(size_t bytes) {
    if (bytes > n) {
      std::free(p);
      n = (bytes + 4095) & ~size_t(4095);
      p = std::aligned_alloc(64, n);
    }
    return p;
  }
};

inline void store_bf16x32(uint16_t* dst, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// 16x16 f32 tile (rows = weight rows, cols = tokens) -> y[token][row], only the valid part.
inline void scatter_tile(const float* c, float* y, size_t ldy, int64_t n0, size_t m0, int nn, int nm) {
  for (int m = 0; m < nm; ++m) {
    float* yr = y + (m0 + size_t(m)) * ldy + size_t(n0);
    if (nn == 16) {
      // column m of the tile: stride 16 floats
      const __m512i idx = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
      _mm512_storeu_ps(yr, _mm512_i32gather_ps(idx, c + m, 4));
    } else {
      for (int n = 0; n < nn; ++n) yr[n] = c[n * 16 + m];
    }
  }
}

}  // namespace

void matmul_amx(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  const int64_t K = w.cols, N = w.rows;
  const int64_t kpad = (K + 31) & ~int64_t(31);
  const size_t mpad = (n_tokens + 31) & ~size_t(31);
  const int64_t ksteps = kpad / 32;
  // Activations in the VNNI layout: for k-step s, token tile mt: 16 pair-rows x 16 tokens x 2 bf16.
  static thread_local AlignedBuf act_buf;
  uint16_t* act = static_cast<uint16_t*>(act_buf.get(mpad * size_t(kpad) * 2));
  const size_t mtiles = mpad / 16;
  pool.parallel_for(mtiles, [&](size_t t0, size_t t1) {
    std::vector<uint16_t> rowbf(static_cast<size_t>(kpad));
    for (size_t mt = t0; mt < t1; ++mt) {
      for (int m = 0; m < 16; ++m) {
        const size_t tok = mt * 16 + size_t(m);
        if (tok < n_tokens) {
          const float* xr = x + tok * size_t(K);
          int64_t k = 0;
          for (; k + 32 <= K; k += 32) store_bf16x32(rowbf.data() + k, _mm512_loadu_ps(xr + k), _mm512_loadu_ps(xr + k + 16));
          for (; k < K; ++k) rowbf[size_t(k)] = f32_to_bf16(xr[k]);
          for (; k < kpad; ++k) rowbf[size_t(k)] = 0;
        } else {
          std::fill(rowbf.begin(), rowbf.end(), uint16_t(0));
        }
        const uint32_t* pairs = reinterpret_cast<const uint32_t*>(rowbf.data());
        for (int64_t s = 0; s < ksteps; ++s) {
          uint32_t* tile = reinterpret_cast<uint32_t*>(act + (size_t(s) * mtiles + mt) * 512);
          for (int kp = 0; kp < 16; ++kp) tile[kp * 16 + m] = pairs[s * 16 + kp];
        }
      }
    }
  });

  const int64_t npanels = (N + 31) / 32;
  pool.parallel_for(size_t(npanels), [&](size_t p0, size_t p1) {
    configure_tiles();
    static thread_local AlignedBuf panel_buf, tmp_buf;
    uint16_t* panel = static_cast<uint16_t*>(panel_buf.get(32 * size_t(kpad) * 2));
    float* tmp = static_cast<float*>(tmp_buf.get(size_t(K) * 4 + 64));
    alignas(64) float ctile[4][256];
    const size_t lda = size_t(kpad) * 2;
    for (size_t p = p0; p < p1; ++p) {
      const int64_t n0 = int64_t(p) * 32;
      const int nrows = int(std::min<int64_t>(32, N - n0));
      for (int r = 0; r < 32; ++r) {
        if (r < nrows) weight_row_to_bf16(w, n0 + r, panel + size_t(r) * size_t(kpad), kpad, tmp);
        else std::memset(panel + size_t(r) * size_t(kpad), 0, size_t(kpad) * 2);
      }
      for (size_t mt = 0; mt < mtiles; mt += 2) {
        const bool two_m = mt + 1 < mtiles;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t s = 0; s < ksteps; ++s) {
          _tile_loadd(4, panel + s * 32, lda);
          _tile_loadd(5, panel + 16 * size_t(kpad) + s * 32, lda);
          const uint16_t* b = act + (size_t(s) * mtiles + mt) * 512;
          _tile_loadd(6, b, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 5, 6);
          if (two_m) {
            _tile_loadd(7, b + 512, 64);
            _tile_dpbf16ps(2, 4, 7);
            _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, ctile[0], 64);
        _tile_stored(1, ctile[1], 64);
        _tile_stored(2, ctile[2], 64);
        _tile_stored(3, ctile[3], 64);
        for (int q = 0; q < (two_m ? 4 : 2); ++q) {
          const int nt = q & 1;
          const size_t m0 = (mt + size_t(q >> 1)) * 16;
          if (m0 >= n_tokens) continue;
          const int nn = std::max(0, std::min(16, nrows - 16 * nt));
          if (nn == 0) continue;
          const int nm = int(std::min<size_t>(16, n_tokens - m0));
          scatter_tile(ctile[q], y, size_t(N), n0 + 16 * nt, m0, nn, nm);
        }
      }
    }
    _tile_release();
  });
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#endif

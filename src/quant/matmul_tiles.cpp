// The portable path for weight types without kernels of their own (the rarer i-quants, and every new
// type until it has them): rows are dequantized to f32 a tile at a time, exactly as dequantize_row does,
// and the tile is multiplied by the f32 kernels of the active level. Each weight is read once per call
// whatever the number of tokens.
#include <algorithm>
#include <vector>

#include "core/arch.h"
#include "core/thread_pool.h"
#include "quant/kernels_impl.h"
#include "quant/kernels_more.h"

namespace g4::kernels::impl {

bool has_direct_kernels(WType t) {
  switch (t) {
    case WType::F32: case WType::F16: case WType::BF16: case WType::Q8_0: case WType::Q4_0:
    case WType::Q4_K: case WType::Q5_K: case WType::Q6_K:
      return true;
    default:
      return false;
  }
}

namespace {

// Rows per tile: one tile of f32 rows stays in L2 while every token passes over it.
int64_t tile_rows(int64_t cols, bool gemm) {
  const int64_t by_size = std::max<int64_t>(4, int64_t((192 << 10) / (4 * std::max<int64_t>(cols, 1))));
  return std::min<int64_t>(gemm ? 32 : 16, by_size);
}

void tile_product(const Weight& tile, const float* x, size_t n_tokens, Isa isa, float* y, size_t ldy,
                  std::vector<float>& ytile) {
  const int64_t nr = tile.rows, cols = tile.cols;
#if G4_X86
  if ((isa == Isa::Avx512 || isa == Isa::Amx) && n_tokens >= 8) {
    ytile.resize(n_tokens * size_t(nr));
    gemm_float_avx512(tile, x, n_tokens, 0, nr, ytile.data());
    for (size_t t = 0; t < n_tokens; ++t)
      std::copy_n(ytile.data() + t * size_t(nr), nr, y + t * ldy);
    return;
  }
  if (isa == Isa::Avx2 || isa == Isa::Avx512 || isa == Isa::Amx) {
    const RowsFn fn = isa != Isa::Avx2 ? rows_fn_avx512(WType::F32) : rows_fn_avx2(WType::F32);
    ActQ acts[4];
    for (size_t t0 = 0; t0 < n_tokens; t0 += 4) {
      const int nt = int(std::min<size_t>(4, n_tokens - t0));
      for (int i = 0; i < nt; ++i) acts[i] = ActQ{x + (t0 + size_t(i)) * size_t(cols)};
      fn(tile, acts, nt, 0, nr, y + t0 * ldy, ldy);
    }
    return;
  }
#else
  (void)isa, (void)ytile;
#endif
  for (int64_t r = 0; r < nr; ++r) {
    const float* wr = reinterpret_cast<const float*>(tile.row_ptr(r));
    for (size_t t = 0; t < n_tokens; ++t) y[t * ldy + size_t(r)] = dot_f32(x + t * size_t(cols), wr, cols);
  }
}

}  // namespace

void matmul_dequant_tiles(const Weight& w, const float* x, size_t n_tokens, float* y, Isa isa, ThreadPool& pool) {
  const int64_t cols = w.cols;
  const int64_t tr = tile_rows(cols, (isa == Isa::Avx512 || isa == Isa::Amx) && n_tokens >= 8);
  pool.parallel_for(size_t(w.rows), [&](size_t r0, size_t r1) {
    static thread_local std::vector<float> buf, ytile;
    buf.resize(size_t(tr * cols));
    for (int64_t rb = int64_t(r0); rb < int64_t(r1); rb += tr) {
      const int64_t nr = std::min<int64_t>(tr, int64_t(r1) - rb);
      for (int64_t r = 0; r < nr; ++r) dequantize_row(w, rb + r, buf.data() + r * cols);
      const Weight tile{reinterpret_cast<const uint8_t*>(buf.data()), WType::F32, nr, cols};
      tile_product(tile, x, n_tokens, isa, y + rb, size_t(w.rows), ytile);
    }
  }, size_t(tr));
}

}  // namespace g4::kernels::impl

namespace g4::kernels {

bool quantizes_activations(WType t) {
  return (impl::has_direct_kernels(t) || impl::has_more_kernels(t)) && t != WType::F32 && t != WType::F16 &&
         t != WType::BF16;
}

}  // namespace g4::kernels

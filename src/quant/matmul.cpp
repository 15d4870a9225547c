// Run-time dispatch of g4::matmul to the best kernels for this CPU (see kernels.h for the levels).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/kernels_impl.h"

namespace g4::kernels {

namespace {

std::atomic<int> g_forced{-1};

bool is_float_type(WType t) { return t == WType::F32 || t == WType::F16 || t == WType::BF16; }

// Float-weight GEMM (AVX-512) from this many tokens; below, the matrix-vector kernels.
constexpr size_t kFloatGemmMinTokens = 8;
// Quantized weights: AVX-512 BF16 GEMM from this many tokens (when the CPU has AVX512_BF16).
constexpr size_t kBf16GemmMinTokens = 16;

bool amx_allowed() {
  // The AMX path has not yet been validated on AMX hardware: opt in with G4_AMX=1.
  static const bool on = [] {
    const char* e = std::getenv("G4_AMX");
    return e && e[0] == '1';
  }();
  return on;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512-vnni";
    case Isa::Amx: return "amx";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return f.has_avx2_level();
    case Isa::Avx512: return f.has_avx512_vnni_level();
    case Isa::Amx:
      return amx_allowed() && f.has_avx512_vnni_level() && f.avx512bf16 && f.amx_tile && f.amx_bf16 && amx_enable();
  }
  return false;
}

Isa best_isa() {
  static const Isa best = [] {
    for (Isa i : {Isa::Amx, Isa::Avx512, Isa::Avx2})
      if (isa_supported(i)) return i;
    return Isa::Scalar;
  }();
  return best;
}

void force_isa(Isa isa) {
  if (!isa_supported(isa)) throw Error(std::string("this CPU does not support the ") + isa_name(isa) + " kernels");
  g_forced.store(int(isa));
}

void clear_forced_isa() { g_forced.store(-1); }

Isa active_isa() {
  const int f = g_forced.load(std::memory_order_relaxed);
  return f >= 0 ? Isa(f) : best_isa();
}

size_t amx_min_tokens() { return 32; }

bool matmul_rounds_to_bf16(WType t, size_t n_tokens) {
  if (is_float_type(t)) return false;
  const Isa isa = active_isa();
  if (isa == Isa::Amx && n_tokens >= amx_min_tokens()) return true;
  return isa >= Isa::Avx512 && cpu_features().avx512bf16 && n_tokens >= kBf16GemmMinTokens;
}

void matmul_q8_scalar(const Weight& w, const float* x, size_t n_tokens, float* y) {
  check(!is_float_type(w.type), "matmul_q8_scalar: weight type is not quantized");
  impl::matmul_q8_scalar_impl(w, x, n_tokens, y);
}

}  // namespace g4::kernels

namespace g4 {

void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  using namespace kernels;
  if (n_tokens == 0 || w.rows == 0) return;
  check(w.data != nullptr, "matmul: the weight has no data");
  const Isa isa = active_isa();
  if (isa == Isa::Scalar || w.cols == 0) return matmul_f32_accum(w, x, n_tokens, y, pool);
  const bool quant = !is_float_type(w.type);
  const int64_t rows = w.rows;
  if (quant && isa == Isa::Amx && n_tokens >= amx_min_tokens()) return impl::matmul_amx(w, x, n_tokens, y, pool);
  if (!quant && isa >= Isa::Avx512 && n_tokens >= kFloatGemmMinTokens) {
    pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
      impl::gemm_float_avx512(w, x, n_tokens, int64_t(r0), int64_t(r1), y);
    }, 32);
    return;
  }
  if (quant && matmul_rounds_to_bf16(w.type, n_tokens)) {
    const int64_t cols = w.cols, kpad = (cols + 31) & ~int64_t(31);
    static thread_local std::vector<uint16_t> xbf;
    xbf.resize(n_tokens * size_t(kpad));
    uint16_t* xb = xbf.data();
    pool.parallel_for(n_tokens, [&](size_t b, size_t e) {
      impl::activations_to_bf16(x + b * size_t(cols), e - b, cols, kpad, xb + b * size_t(kpad));
    });
    pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
      impl::gemm_bf16_avx512(w, xb, n_tokens, int64_t(r0), int64_t(r1), y);
    }, 32);
    return;
  }
  const bool wide = isa >= Isa::Avx512;
  static thread_local impl::ActBuffer buf;
  buf.prepare(w.type, x, n_tokens, w.cols, wide ? impl::Layout::Avx512 : impl::Layout::Natural, wide);
  const impl::RowsFn fn = wide ? impl::rows_fn_avx512(w.type) : impl::rows_fn_avx2(w.type);
  const impl::ActQ* acts = buf.acts();
  // Rows in blocks of about 128 KiB of weights, so a block stays in L2 while every token passes over it.
  const int64_t block_rows = n_tokens <= 4 ? rows : std::max<int64_t>(16, int64_t((128 << 10) / w.row_bytes()));
  pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
    for (int64_t rb = int64_t(r0); rb < int64_t(r1); rb += block_rows) {
      const int64_t re = std::min<int64_t>(int64_t(r1), rb + block_rows);
      for (size_t t0 = 0; t0 < n_tokens; t0 += 4) {
        const int nt = int(std::min<size_t>(4, n_tokens - t0));
        fn(w, acts + t0, nt, rb, re, y + t0 * size_t(rows), size_t(rows));
      }
    }
  }, 16);
}

}  // namespace g4

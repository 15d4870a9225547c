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
// Quantized weights: AVX-512 BF16 GEMM from this many tokens (when the CPU has AVX512_BF16) for the types
// the integer GEMM does not handle.
constexpr size_t kBf16GemmMinTokens = 16;
// Quantized weights: AVX-512 VNNI integer GEMM from this many tokens.
constexpr size_t kInt8GemmMinTokens = 8;

bool use_int8_gemm(Isa isa, WType t, size_t n_tokens) {
  static const bool off = std::getenv("G4_NO_INT8") != nullptr;  // A/B benchmarking against the bf16 GEMM
  return !off && isa >= Isa::Avx512 && n_tokens >= kInt8GemmMinTokens && impl::gemm_int8_supported(t);
}

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
  if (use_int8_gemm(isa, t, n_tokens)) return false;
  return isa >= Isa::Avx512 && cpu_features().avx512bf16 && n_tokens >= kBf16GemmMinTokens;
}

void matmul_q8_scalar(const Weight& w, const float* x, size_t n_tokens, float* y) {
  check(!is_float_type(w.type), "matmul_q8_scalar: weight type is not quantized");
  impl::matmul_q8_scalar_impl(w, x, n_tokens, y);
}

}  // namespace g4::kernels

namespace g4 {

namespace {

using kernels::Isa;

// Calls f(out, local_r0, local_r1) for the parts of rows [r0, r1) of the concatenation of the weights.
template <class F>
void for_each_piece(const MatmulOut* outs, size_t n, int64_t r0, int64_t r1, F f) {
  int64_t base = 0;
  for (size_t i = 0; i < n && base < r1; ++i) {
    const int64_t rows = outs[i].w->rows;
    const int64_t b = std::max(r0, base), e = std::min(r1, base + rows);
    if (b < e) f(outs[i], b - base, e - base);
    base += rows;
  }
}

// Integer GEMM (prefill): activations quantized once, rows of all weights shared out in one dispatch.
void run_int8_gemm(const MatmulOut* outs, size_t n, int64_t total_rows, const float* x, size_t n_tokens,
                   ThreadPool& pool) {
  const Weight& w0 = *outs[0].w;
  static thread_local kernels::impl::Int8ActBuffer tls_acts;
  kernels::impl::Int8ActBuffer& acts = tls_acts;  // the workers must see this thread's buffer, not their own
  acts.resize(n_tokens, w0.cols);
  pool.parallel_for(n_tokens, [&](size_t b, size_t e) { acts.prepare(w0.type, x, w0.cols, b, e); });
  const kernels::impl::Int8Acts& a = acts.acts();
  pool.parallel_for(size_t(total_rows), [&](size_t r0, size_t r1) {
    for_each_piece(outs, n, int64_t(r0), int64_t(r1), [&](const MatmulOut& o, int64_t b, int64_t e) {
      kernels::impl::gemm_int8_avx512(*o.w, a, n_tokens, b, e, o.y);
    });
  }, 48);
}

// Matrix-vector kernels (decode and small batches), activations quantized once for all weights.
void run_rows(const MatmulOut* outs, size_t n, int64_t total_rows, const float* x, size_t n_tokens, bool wide,
              ThreadPool& pool) {
  const Weight& w0 = *outs[0].w;
  static thread_local kernels::impl::ActBuffer buf;
  buf.prepare(w0.type, x, n_tokens, w0.cols, wide ? kernels::impl::Layout::Avx512 : kernels::impl::Layout::Natural,
              wide);
  const kernels::impl::RowsFn fn = wide ? kernels::impl::rows_fn_avx512(w0.type) : kernels::impl::rows_fn_avx2(w0.type);
  const kernels::impl::ActQ* acts = buf.acts();
  // Rows in blocks of about 128 KiB of weights, so a block stays in L2 while every token passes over it.
  const int64_t block_rows =
      n_tokens <= 4 ? total_rows : std::max<int64_t>(16, int64_t((128 << 10) / w0.row_bytes()));
  pool.parallel_for(size_t(total_rows), [&](size_t r0, size_t r1) {
    for_each_piece(outs, n, int64_t(r0), int64_t(r1), [&](const MatmulOut& o, int64_t b, int64_t e) {
      const size_t ldy = size_t(o.w->rows);
      for (int64_t rb = b; rb < e; rb += block_rows) {
        const int64_t re = std::min<int64_t>(e, rb + block_rows);
        for (size_t t0 = 0; t0 < n_tokens; t0 += 4) {
          const int nt = int(std::min<size_t>(4, n_tokens - t0));
          fn(*o.w, acts + t0, nt, rb, re, o.y + t0 * ldy, ldy);
        }
      }
    });
  }, 16);
}

// Paths that take one weight at a time (float weights, bf16 and AMX GEMMs, the scalar reference).
void matmul_single(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  using namespace kernels;
  const Isa isa = active_isa();
  const int64_t rows = w.rows;
  if (isa == Isa::Scalar || w.cols == 0) return matmul_f32_accum(w, x, n_tokens, y, pool);
  const bool quant = !is_float_type(w.type);
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
  const MatmulOut one{&w, y};
  run_rows(&one, 1, rows, x, n_tokens, isa >= Isa::Avx512, pool);
}

}  // namespace

void matmul_many(std::initializer_list<MatmulOut> list, const float* x, size_t n_tokens, ThreadPool& pool) {
  using namespace kernels;
  if (n_tokens == 0 || list.size() == 0) return;
  const MatmulOut* outs = list.begin();
  const size_t n = list.size();
  const Weight& w0 = *outs[0].w;
  int64_t total_rows = 0;
  bool same = true;
  for (const MatmulOut& o : list) {
    check(o.w->data != nullptr || o.w->rows == 0, "matmul: the weight has no data");
    same = same && o.w->type == w0.type && o.w->cols == w0.cols;
    total_rows += o.w->rows;
  }
  if (total_rows == 0) return;
  const Isa isa = active_isa();
  const bool quant = !is_float_type(w0.type);
  const bool shared_path = same && quant && isa != Isa::Scalar && w0.cols > 0 && !matmul_rounds_to_bf16(w0.type, n_tokens);
  if (!shared_path) {
    for (const MatmulOut& o : list)
      if (o.w->rows > 0) matmul_single(*o.w, x, n_tokens, o.y, pool);
    return;
  }
  if (use_int8_gemm(isa, w0.type, n_tokens)) return run_int8_gemm(outs, n, total_rows, x, n_tokens, pool);
  run_rows(outs, n, total_rows, x, n_tokens, isa >= Isa::Avx512, pool);
}

void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  matmul_many({MatmulOut{&w, y}}, x, n_tokens, pool);
}

}  // namespace g4

// Run-time dispatch of g4::matmul to the best kernels for this CPU (see kernels.h for the levels).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "core/arch.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "quant/kernels_impl.h"
#include "quant/kernels_more.h"
#if G4_X86
#include "quant/gemm_bf16.h"
#endif

namespace g4::kernels {

namespace {

std::atomic<int> g_forced{-1};

bool is_float_type(WType t) { return t == WType::F32 || t == WType::F16 || t == WType::BF16; }

// Float-weight GEMM (AVX-512) from this many tokens; below, the matrix-vector kernels.
constexpr size_t kFloatGemmMinTokens = 8;
// Quantized weights: integer GEMM from this many tokens; below, the matrix-vector kernels (a few tokens
// per pass over each row). Both read every weight once per call; the GEMM costs a repacking of the
// weights, which pays once a pass of the row kernels would cover fewer tokens than the call has.
constexpr size_t kInt8GemmMinTokens = 5;
// AMX-INT8 instead of the VNNI GEMM from this many tokens: below two whole 16-token tiles the tile unit
// does not beat VNNI (measured with matmul_bench).
constexpr size_t kAmxGemmMinTokens = 32;

// Types with kernels_more.h's matrix-vector kernels use them for up to 4 tokens (decoding); more tokens
// take the integer GEMMs on the AVX-512 levels where gemm_int8_supported says so, else multiply f32 tiles
// of dequantized rows, which dequantize each weight once per call.
// They exist only for x86-64 (AVX2 and up); elsewhere those types take the dequantized tiles.
bool more_rows(Isa isa, WType t, size_t n_tokens) {
#if G4_X86
  return (isa == Isa::Avx2 || isa == Isa::Avx512 || isa == Isa::Amx) && impl::has_more_kernels(t) && n_tokens <= 4;
#else
  (void)isa, (void)t, (void)n_tokens;
  return false;
#endif
}

enum class IntGemm { None, Vnni, Amx };
IntGemm int_gemm_for(Isa isa, WType t, size_t n_tokens);

// Whether t is multiplied by f32 tiles of dequantized rows (MatmulPath::DequantTiles) for n_tokens.
bool dequant_tiles(Isa isa, WType t, size_t n_tokens) {
  return !impl::has_direct_kernels(t) && !more_rows(isa, t, n_tokens) && int_gemm_for(isa, t, n_tokens) == IntGemm::None;
}

bool avx512_level(Isa isa) { return isa == Isa::Avx512 || isa == Isa::Amx; }

// Which integer GEMM (if any) multiplies n_tokens tokens by a weight of type t at level isa.
IntGemm int_gemm_for(Isa isa, WType t, size_t n_tokens) {
#if G4_X86
  static const bool off = std::getenv("G4_NO_INT8") != nullptr;  // A/B runs against the row kernels
  if (off) return IntGemm::None;
  if (!impl::gemm_int8_supported(t)) return IntGemm::None;
  if (isa == Isa::Amx && n_tokens >= kAmxGemmMinTokens) return IntGemm::Amx;
  if (avx512_level(isa) && n_tokens >= kInt8GemmMinTokens) return IntGemm::Vnni;
#endif
  return IntGemm::None;
}

// The matrix-vector kernels of level isa for weights of type t; nullptr where the level has none.
impl::RowsFn rows_fn(Isa isa, WType t) {
  switch (isa) {
#if G4_X86
    case Isa::Avx2: return impl::rows_fn_avx2(t);
    case Isa::Avx512:
    case Isa::Amx: return impl::rows_fn_avx512(t);
#endif
#if G4_ARM64
    case Isa::Neon: return impl::rows_fn_neon(t);
    case Isa::NeonDot: return impl::rows_fn_neon_dot(t);
#endif
    default: return nullptr;
  }
}

// The bf16 GEMM that multiplies n_tokens tokens by float weights with MatmulMath::Fast at level isa, or
// FloatGemm where there is none (no bf16 instructions, too few tokens): those calls are exact. From 8 tokens
// on, the bf16 GEMMs beat the exact ones, and AMX-BF16 beats AVX-512 BF16 (measured with matmul_bench).
MatmulPath bf16_gemm_for(Isa isa, size_t n_tokens) {
#if G4_X86
  const CpuFeatures& f = cpu_features();
  if (!avx512_level(isa) || !f.avx512bf16 || n_tokens < kFloatGemmMinTokens) return MatmulPath::FloatGemm;
  if (isa == Isa::Amx && f.amx_bf16) return MatmulPath::AmxBf16Gemm;
  return MatmulPath::Avx512Bf16Gemm;
#else
  (void)isa, (void)n_tokens;
  return MatmulPath::FloatGemm;
#endif
}

bool is_bf16_gemm(MatmulPath p) { return p == MatmulPath::AmxBf16Gemm || p == MatmulPath::Avx512Bf16Gemm; }

// The kernel that multiplies n_tokens tokens by a weight of type t at level isa. A quantized type without
// kernels at this level takes the scalar 8-bit-activation kernels (the numerics of every quantized path);
// a float type without them, the f32 reference.
MatmulPath path_for(Isa isa, WType t, size_t n_tokens, MatmulMath math = MatmulMath::Exact) {
  if (isa == Isa::Scalar) return MatmulPath::Scalar;
  if (dequant_tiles(isa, t, n_tokens)) return MatmulPath::DequantTiles;
  if (is_float_type(t)) {
    const MatmulPath fast = math == MatmulMath::Fast ? bf16_gemm_for(isa, n_tokens) : MatmulPath::FloatGemm;
    if (is_bf16_gemm(fast)) return fast;
    if (avx512_level(isa) && n_tokens >= kFloatGemmMinTokens) return MatmulPath::FloatGemm;
    return rows_fn(isa, t) ? MatmulPath::Rows : MatmulPath::Scalar;
  }
  switch (int_gemm_for(isa, t, n_tokens)) {
    case IntGemm::Amx: return MatmulPath::AmxInt8Gemm;
    case IntGemm::Vnni: return MatmulPath::VnniInt8Gemm;
    case IntGemm::None: break;
  }
  return rows_fn(isa, t) || impl::rows_fn_scalar_q8(t) ? MatmulPath::Rows : MatmulPath::Scalar;
}

bool amx_disabled_by_env() {
  static const bool off = [] {
    const char* e = std::getenv("G4_NO_AMX");
    return e && e[0] && e[0] != '0';
  }();
  return off;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512-vnni";
    case Isa::Amx: return "amx";
    case Isa::Neon: return "neon";
    case Isa::NeonDot: return "neon-dot";
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
      return !amx_disabled_by_env() && f.has_avx512_vnni_level() && f.amx_tile && f.amx_int8 && amx_enable();
    case Isa::Neon: return f.neon;
    case Isa::NeonDot: return f.neon && f.dotprod;
  }
  return false;
}

Isa best_isa() {
  static const Isa best = [] {
    for (Isa i : {Isa::Amx, Isa::Avx512, Isa::Avx2, Isa::NeonDot, Isa::Neon})
      if (isa_supported(i)) return i;
    return Isa::Scalar;
  }();
  return best;
}

void force_isa(Isa isa) {
  if (isa == Isa::Amx && amx_disabled_by_env()) throw Error("the amx kernels are turned off by G4_NO_AMX");
  if (!isa_supported(isa)) throw Error(std::string("this CPU does not support the ") + isa_name(isa) + " kernels");
  g_forced.store(int(isa));
}

void clear_forced_isa() { g_forced.store(-1); }

Isa active_isa() {
  const int f = g_forced.load(std::memory_order_relaxed);
  return f >= 0 ? Isa(f) : best_isa();
}

MatmulPath matmul_path(WType t, size_t n_tokens, MatmulMath math) { return path_for(active_isa(), t, n_tokens, math); }

const char* matmul_path_name(MatmulPath p) {
  switch (p) {
    case MatmulPath::Scalar: return "scalar";
    case MatmulPath::Rows: return "rows";
    case MatmulPath::FloatGemm: return "float-gemm";
    case MatmulPath::VnniInt8Gemm: return "vnni-int8-gemm";
    case MatmulPath::AmxInt8Gemm: return "amx-int8-gemm";
    case MatmulPath::DequantTiles: return "dequant-tiles";
    case MatmulPath::AmxBf16Gemm: return "amx-bf16-gemm";
    case MatmulPath::Avx512Bf16Gemm: return "avx512-bf16-gemm";
  }
  return "?";
}

void matmul_q8_scalar(const Weight& w, const float* x, size_t n_tokens, float* y) {
  check(!is_float_type(w.type), "matmul_q8_scalar: weight type is not quantized");
  check(quantizes_activations(w.type), std::string("matmul_q8_scalar: no integer kernels for ") + wtype_info(w.type).name);
  impl::matmul_q8_scalar_impl(w, x, n_tokens, y);
}

#if !G4_X86
uint64_t amx_panels_done() { return 0; }  // no AMX GEMM on this architecture
#endif

}  // namespace g4::kernels

namespace g4 {

namespace {

using kernels::Isa;
using kernels::MatmulPath;

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

#if G4_X86
// Integer GEMM (prefill, batches): activations quantized once, rows of all weights shared out in one
// dispatch.
void run_int8_gemm(const MatmulOut* outs, size_t n, int64_t total_rows, const float* x, size_t n_tokens, bool amx,
                   ThreadPool& pool) {
  const Weight& w0 = *outs[0].w;
  static thread_local kernels::impl::Int8ActBuffer tls_acts;
  kernels::impl::Int8ActBuffer& acts = tls_acts;  // the workers must see this thread's buffer, not their own
  acts.resize(n_tokens, w0.cols, amx ? kernels::impl::Int8Layout::Tiles : kernels::impl::Int8Layout::Rows);
  pool.parallel_for(n_tokens, [&](size_t b, size_t e) { acts.prepare(w0.type, x, w0.cols, b, e); });
  const kernels::impl::Int8Acts& a = acts.acts();
  pool.parallel_for(size_t(total_rows), [&](size_t r0, size_t r1) {
    for_each_piece(outs, n, int64_t(r0), int64_t(r1), [&](const MatmulOut& o, int64_t b, int64_t e) {
      if (amx) kernels::impl::gemm_int8_amx(*o.w, a, n_tokens, b, e, o.y);
      else kernels::impl::gemm_int8_avx512(*o.w, a, n_tokens, b, e, o.y);
    });
  }, amx ? 32 : 48);
}

// bf16 GEMM (MatmulMath::Fast, float weights of one width): activations rounded to bf16 once, rows of
// all weights shared out in one dispatch.
void run_bf16_gemm(const MatmulOut* outs, size_t n, int64_t total_rows, const float* x, size_t n_tokens, bool amx,
                   ThreadPool& pool) {
  static thread_local kernels::impl::Bf16ActBuffer tls_acts;
  kernels::impl::Bf16ActBuffer& acts = tls_acts;  // the workers must see this thread's buffer, not their own
  acts.resize(n_tokens, outs[0].w->cols);
  const kernels::impl::Bf16Acts& a = acts.acts();
  pool.parallel_for(a.n_tiles(), [&](size_t b, size_t e) { acts.prepare(x, b, e); });
  pool.parallel_for(size_t(total_rows), [&](size_t r0, size_t r1) {
    for_each_piece(outs, n, int64_t(r0), int64_t(r1), [&](const MatmulOut& o, int64_t b, int64_t e) {
      if (amx) kernels::impl::gemm_bf16_amx(*o.w, a, b, e, o.y);
      else kernels::impl::gemm_bf16_avx512(*o.w, a, b, e, o.y);
    });
  }, 32);
}
#endif

// Matrix-vector kernels (decode and small batches), activations quantized once for all weights; level
// isa's kernels for the type, else the scalar 8-bit-activation ones (path_for said Rows).
void run_rows(const MatmulOut* outs, size_t n, int64_t total_rows, const float* x, size_t n_tokens, Isa isa,
              ThreadPool& pool) {
  const Weight& w0 = *outs[0].w;
  static thread_local kernels::impl::ActBuffer buf;
  kernels::impl::RowsFn fn = kernels::rows_fn(isa, w0.type);
#if G4_X86
  if (!fn && kernels::more_rows(isa, w0.type, n_tokens))
    fn = kernels::avx512_level(isa) ? kernels::impl::rows_fn_more_vnni(w0.type) : kernels::impl::rows_fn_more_avx2(w0.type);
#endif
  const bool wide = fn && kernels::avx512_level(isa);
  if (!fn) fn = kernels::impl::rows_fn_scalar_q8(w0.type);
  buf.prepare(w0.type, x, n_tokens, w0.cols, wide ? kernels::impl::Layout::Avx512 : kernels::impl::Layout::Natural,
              wide);
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

// One weight at a time: float weights, the scalar reference, and the weights of a matmul_many whose types
// or widths differ (a Q6_K v beside Q4_K q and k), each on its own best path.
void matmul_single(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool, MatmulMath math) {
  using namespace kernels;
  const Isa isa = active_isa();
  const int64_t rows = w.rows;
  const MatmulPath path = w.cols == 0 ? MatmulPath::Scalar : path_for(isa, w.type, n_tokens, math);
  if (path == MatmulPath::DequantTiles) return impl::matmul_dequant_tiles(w, x, n_tokens, y, isa, pool);
  const MatmulOut one{&w, y};
  switch (path) {
    case MatmulPath::Scalar: return matmul_f32_accum(w, x, n_tokens, y, pool);
#if G4_X86
    case MatmulPath::FloatGemm:
      return pool.parallel_for(size_t(rows), [&](size_t r0, size_t r1) {
        impl::gemm_float_avx512(w, x, n_tokens, int64_t(r0), int64_t(r1), y);
      }, 32);
    case MatmulPath::AmxInt8Gemm: return run_int8_gemm(&one, 1, rows, x, n_tokens, true, pool);
    case MatmulPath::VnniInt8Gemm: return run_int8_gemm(&one, 1, rows, x, n_tokens, false, pool);
    case MatmulPath::AmxBf16Gemm: return run_bf16_gemm(&one, 1, rows, x, n_tokens, true, pool);
    case MatmulPath::Avx512Bf16Gemm: return run_bf16_gemm(&one, 1, rows, x, n_tokens, false, pool);
#endif
    default: return run_rows(&one, 1, rows, x, n_tokens, isa, pool);
  }
}

}  // namespace

void matmul_many(std::initializer_list<MatmulOut> list, const float* x, size_t n_tokens, ThreadPool& pool,
                 MatmulMath math) {
  using namespace kernels;
  if (n_tokens == 0 || list.size() == 0) return;
  const MatmulOut* outs = list.begin();
  const size_t n = list.size();
  const Weight& w0 = *outs[0].w;
  int64_t total_rows = 0;
  bool same = true, same_float_cols = true;
  for (const MatmulOut& o : list) {
    check(o.w->data != nullptr || o.w->rows == 0, "matmul: the weight has no data");
    same = same && o.w->type == w0.type && o.w->cols == w0.cols;
    same_float_cols = same_float_cols && is_float_type(o.w->type) && o.w->cols == w0.cols;
    total_rows += o.w->rows;
  }
  if (total_rows == 0) return;
  const Isa isa = active_isa();
  const bool quant = !is_float_type(w0.type);
  const MatmulPath path = kernels::path_for(isa, w0.type, n_tokens, math);
#if G4_X86
  if (is_bf16_gemm(path) && same_float_cols && w0.cols > 0)
    return run_bf16_gemm(outs, n, total_rows, x, n_tokens, path == MatmulPath::AmxBf16Gemm, pool);
#endif
  const bool shared_path = same && quant && path != MatmulPath::Scalar && path != MatmulPath::DequantTiles && w0.cols > 0;
  if (!shared_path) {
    for (const MatmulOut& o : list)
      if (o.w->rows > 0) matmul_single(*o.w, x, n_tokens, o.y, pool, math);
    return;
  }
  switch (path) {
#if G4_X86
    case MatmulPath::AmxInt8Gemm: return run_int8_gemm(outs, n, total_rows, x, n_tokens, true, pool);
    case MatmulPath::VnniInt8Gemm: return run_int8_gemm(outs, n, total_rows, x, n_tokens, false, pool);
#endif
    default: return run_rows(outs, n, total_rows, x, n_tokens, isa, pool);
  }
}

void matmul_many(std::initializer_list<MatmulOut> list, const float* x, size_t n_tokens, ThreadPool& pool) {
  matmul_many(list, x, n_tokens, pool, MatmulMath::Exact);
}

void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool, MatmulMath math) {
  matmul_many({MatmulOut{&w, y}}, x, n_tokens, pool, math);
}

void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool) {
  matmul_many({MatmulOut{&w, y}}, x, n_tokens, pool, MatmulMath::Exact);
}

}  // namespace g4

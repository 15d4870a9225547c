// MatmulMath::Fast for float weights: the bf16 GEMMs (AMX-BF16, and AVX-512 BF16, forced with level
// Avx512 on a CPU that has AMX) against the product computed here in double precision, within the bound
// that bf16 rounding of the activations (and of F16/F32 weights) allows; shapes that are not multiples of
// the kernels' 16-token tiles, 16-row groups, 32-column blocks, 256-row panels or 512-column chunks; and
// MatmulMath::Exact (the default) unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/weight.h"
#if defined(__x86_64__)
#include "quant/gemm_bf16.h"
#endif

using namespace g4;
using kernels::Isa;
using kernels::MatmulPath;

namespace {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 7) {}
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return uint32_t(s >> 11);
  }
  float sym() { return float(next() & 0xffffff) / float(1 << 23) - 1.0f; }
};

struct Mat {
  std::vector<uint8_t> bytes;
  std::vector<float> f;  // the stored values as f32
  Weight w;
};

Mat make_weight(WType t, int64_t rows, int64_t cols, uint64_t seed) {
  Rng r(seed);
  Mat m;
  const size_t n = size_t(rows * cols);
  m.bytes.resize(wtype_row_bytes(t, cols) * size_t(rows) + 64);
  m.f.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = r.sym() * (1.0f + float((i / size_t(cols)) % 3));
    if (t == WType::F32) {
      m.f[i] = v;
      std::memcpy(m.bytes.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = t == WType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
      m.f[i] = t == WType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
      std::memcpy(m.bytes.data() + 2 * i, &h, 2);
    }
  }
  m.w = Weight{m.bytes.data(), t, rows, cols};
  return m;
}

// Random activations with an outlier per token and an all-zero stretch; with bf16_exact, every value is
// representable in bf16 (so only the f32 summation can differ from the exact product).
std::vector<float> make_x(size_t n, int64_t cols, uint64_t seed, bool bf16_exact) {
  Rng r(seed);
  std::vector<float> x(n * size_t(cols));
  for (auto& v : x) v = r.sym();
  for (size_t t = 0; t < n; ++t) {
    x[t * size_t(cols) + (t * 7) % size_t(cols)] = 20.0f;
    for (int64_t j = 32; j < std::min<int64_t>(cols, 64); ++j) x[t * size_t(cols) + size_t(j)] = 0.0f;
  }
  if (bf16_exact)
    for (auto& v : x) v = bf16_to_f32(f32_to_bf16(v));
  return x;
}

// The product in double and sum_k |x_k w_k| per output.
void reference(const Mat& m, const std::vector<float>& x, size_t n, std::vector<double>& y, std::vector<double>& s) {
  const int64_t rows = m.w.rows, cols = m.w.cols;
  y.assign(n * size_t(rows), 0.0);
  s.assign(n * size_t(rows), 0.0);
  for (size_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0, abs = 0;
      const float* xt = x.data() + t * size_t(cols);
      const float* wr = m.f.data() + size_t(r * cols);
      for (int64_t c = 0; c < cols; ++c) {
        const double p = double(xt[c]) * double(wr[c]);
        acc += p;
        abs += std::fabs(p);
      }
      y[t * size_t(rows) + size_t(r)] = acc;
      s[t * size_t(rows) + size_t(r)] = abs;
    }
}

struct ForceGuard {
  explicit ForceGuard(Isa i) { kernels::force_isa(i); }
  ~ForceGuard() { kernels::clear_forced_isa(); }
};

// The bf16 paths this CPU can run: the level to force and the path it must take for Fast with many tokens.
struct FastPath {
  Isa isa;
  MatmulPath path;
};
std::vector<FastPath> fast_paths() {
  std::vector<FastPath> v;
  const CpuFeatures& f = cpu_features();
  if (kernels::isa_supported(Isa::Amx) && f.amx_bf16 && f.avx512bf16) v.push_back({Isa::Amx, MatmulPath::AmxBf16Gemm});
  if (kernels::isa_supported(Isa::Avx512) && f.avx512bf16) v.push_back({Isa::Avx512, MatmulPath::Avx512Bf16Gemm});
  return v;
}

#if defined(__x86_64__)
uint64_t panels(MatmulPath p) { return kernels::impl::bf16_panels_done(p == MatmulPath::AmxBf16Gemm); }
#else
uint64_t panels(MatmulPath) { return 0; }
#endif

// Rounding of the activations to bf16 moves each product by at most 2^-8 of itself; F16 and F32 weights
// are rounded too. Plus f32 summation (far below that) and values flushed below 2^-126.
double bound(WType t, double s, bool bf16_exact_x) {
  const double rounding = t == WType::BF16 ? (bf16_exact_x ? 0.0 : 0x1p-8) : (bf16_exact_x ? 0x1p-8 : 0x1.02p-7);
  return rounding * s + 2e-6 * s + 1e-30;
}

void check_fast(const FastPath& fp, WType t, int64_t rows, int64_t cols, size_t n, bool bf16_exact_x,
                ThreadPool& pool) {
  const Mat m = make_weight(t, rows, cols, uint64_t(rows * 1009 + cols));
  const auto x = make_x(n, cols, n * 31 + uint64_t(cols), bf16_exact_x);
  std::vector<double> ref, s;
  reference(m, x, n, ref, s);
  ForceGuard g(fp.isa);
  const std::string at = std::string(wtype_info(t).name) + " " + kernels::isa_name(fp.isa) + " " +
                         kernels::matmul_path_name(kernels::matmul_path(t, n, MatmulMath::Fast)) +
                         " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) + " n=" + std::to_string(n);
  const MatmulPath path = kernels::matmul_path(t, n, MatmulMath::Fast);
  if (n >= 8) {
    ASSERT_EQ(path, fp.path) << at;
  }
  std::vector<float> y(n * size_t(rows), -12345.0f);
  const uint64_t before = panels(fp.path);
  matmul(m.w, x.data(), n, y.data(), pool, MatmulMath::Fast);
  if (path == fp.path) {
    EXPECT_GT(panels(fp.path), before) << at << ": the bf16 GEMM did not run";
  }
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_NEAR(double(y[i]), ref[i], bound(t, s[i], bf16_exact_x)) << at << " i=" << i;
}

}  // namespace

// Every bf16 path this CPU has, BF16 weights of awkward shapes, token counts around the switch-over
// (7 and below: exact; 8 and up: the bf16 GEMM) and both sides of the 16-token tiles and pairs of tiles.
TEST(MatmulBf16, FastWithinBf16RoundingOfActivations) {
  ThreadPool pool(2);
  for (const FastPath& fp : fast_paths()) {
    for (size_t n : {1, 7, 8, 15, 16, 17, 31, 33, 48, 101}) check_fast(fp, WType::BF16, 45, 100, n, false, pool);
    check_fast(fp, WType::BF16, 17, 4304, 37, false, pool);  // columns past a 512-column chunk, not 32-aligned
    check_fast(fp, WType::BF16, 300, 600, 70, false, pool);  // rows past a 256-row panel
    check_fast(fp, WType::BF16, 1, 31, 20, false, pool);     // less than one block, one row
    check_fast(fp, WType::BF16, 64, 1536, 130, false, pool);  // whole tiles and groups
  }
}

// Activations that bf16 represents exactly: with BF16 weights, the GEMMs must then agree with the product
// up to f32 summation, which catches any pairing or padding error the rounding bound could hide.
TEST(MatmulBf16, ExactWhenActivationsAreBf16) {
  ThreadPool pool(2);
  for (const FastPath& fp : fast_paths()) {
    for (size_t n : {9, 16, 45}) check_fast(fp, WType::BF16, 49, 1100, n, true, pool);
    check_fast(fp, WType::BF16, 300, 4304, 33, true, pool);
  }
}

// F16 and F32 weights are rounded to bf16 when packed.
TEST(MatmulBf16, F16AndF32WeightsRounded) {
  ThreadPool pool(2);
  for (const FastPath& fp : fast_paths())
    for (WType t : {WType::F16, WType::F32}) {
      check_fast(fp, t, 45, 100, 33, false, pool);
      check_fast(fp, t, 33, 1100, 20, true, pool);
    }
}

// Exact, the default, is what the overloads without a precision compute (bit for bit) on every level;
// Fast is Exact for quantized weights, for fewer than 8 tokens, and where there are no bf16 instructions.
TEST(MatmulBf16, ExactUnchangedAndFastFallsBackToExact) {
  ThreadPool pool(2);
  std::vector<Isa> isas;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx, Isa::Neon, Isa::NeonDot})
    if (kernels::isa_supported(i)) isas.push_back(i);
  const Mat bf = make_weight(WType::BF16, 40, 96, 5);
  std::vector<uint8_t> qbytes(wtype_row_bytes(WType::Q8_0, 96) * 40);
  for (int64_t r = 0; r < 40; ++r)
    quantize_row(WType::Q8_0, bf.f.data() + r * 96, qbytes.data() + size_t(r) * wtype_row_bytes(WType::Q8_0, 96), 96);
  const Weight q8{qbytes.data(), WType::Q8_0, 40, 96};
  for (Isa isa : isas) {
    ForceGuard g(isa);
    for (size_t n : {1, 7, 33}) {
      const auto x = make_x(n, 96, n, false);
      std::vector<float> a(n * 40), b(n * 40), c(n * 40);
      matmul(bf.w, x.data(), n, a.data(), pool);
      matmul(bf.w, x.data(), n, b.data(), pool, MatmulMath::Exact);
      EXPECT_EQ(a, b) << kernels::isa_name(isa) << " n=" << n;
      const MatmulPath fast = kernels::matmul_path(WType::BF16, n, MatmulMath::Fast);
      if (fast != MatmulPath::AmxBf16Gemm && fast != MatmulPath::Avx512Bf16Gemm) {
        EXPECT_EQ(fast, kernels::matmul_path(WType::BF16, n)) << kernels::isa_name(isa) << " n=" << n;
        matmul(bf.w, x.data(), n, c.data(), pool, MatmulMath::Fast);
        EXPECT_EQ(a, c) << kernels::isa_name(isa) << " n=" << n;
      }
      EXPECT_EQ(kernels::matmul_path(WType::Q8_0, n, MatmulMath::Fast), kernels::matmul_path(WType::Q8_0, n));
      matmul(q8, x.data(), n, a.data(), pool);
      matmul(q8, x.data(), n, c.data(), pool, MatmulMath::Fast);
      EXPECT_EQ(a, c) << "Q8_0 " << kernels::isa_name(isa) << " n=" << n;
    }
  }
  EXPECT_EQ(kernels::matmul_path(WType::BF16, 7, MatmulMath::Fast), kernels::matmul_path(WType::BF16, 7));
}

// The paths this CPU must have: AVX-512 BF16 wherever the CPU has the instructions (AMD Zen 4/5 in CI),
// AMX-BF16 wherever it has the tile unit and the OS grants it.
TEST(MatmulBf16, PathsTheCpuHas) {
  const CpuFeatures& f = cpu_features();
  const auto paths = fast_paths();
  const bool avx = f.has_avx512_vnni_level() && f.avx512bf16;
  EXPECT_EQ(paths.size(), size_t(avx) + size_t(avx && f.amx_tile && f.amx_bf16 && f.amx_int8 && amx_enable() &&
                                                 kernels::isa_supported(Isa::Amx)));
  if (!paths.empty()) {
    EXPECT_EQ(kernels::matmul_path(WType::BF16, 64, MatmulMath::Fast), paths.front().path);
  }
}

// Several float weights (q/k/v; mixed BF16 and F16) share one pass of Fast; a quantized weight among them
// sends each weight its own way (the quantized one exactly as alone).
TEST(MatmulBf16, ManyWeightsFast) {
  ThreadPool pool(2);
  for (const FastPath& fp : fast_paths()) {
    ForceGuard g(fp.isa);
    const Mat a = make_weight(WType::BF16, 37, 224, 1), b = make_weight(WType::F16, 5, 224, 2);
    const Mat c = make_weight(WType::BF16, 50, 224, 3);
    std::vector<uint8_t> qbytes(wtype_row_bytes(WType::Q8_0, 224) * 20);
    for (int64_t r = 0; r < 20; ++r)
      quantize_row(WType::Q8_0, c.f.data() + r * 224, qbytes.data() + size_t(r) * wtype_row_bytes(WType::Q8_0, 224), 224);
    const Weight q8{qbytes.data(), WType::Q8_0, 20, 224};
    const size_t n = 40;
    const auto x = make_x(n, 224, 9, false);
    std::vector<float> ya(n * 37), yb(n * 5), yc(n * 50), ya2(n * 37), yq(n * 20), yq_alone(n * 20);
    matmul_many({{&a.w, ya.data()}, {&b.w, yb.data()}, {&c.w, yc.data()}}, x.data(), n, pool, MatmulMath::Fast);
    matmul_many({{&a.w, ya2.data()}, {&q8, yq.data()}}, x.data(), n, pool, MatmulMath::Fast);
    matmul(q8, x.data(), n, yq_alone.data(), pool);
    EXPECT_EQ(yq, yq_alone) << kernels::matmul_path_name(fp.path);
    const std::pair<const Mat*, std::vector<float>*> outs[] = {{&a, &ya}, {&b, &yb}, {&c, &yc}, {&a, &ya2}};
    for (const auto& [m, y] : outs) {
      std::vector<double> ref, s;
      reference(*m, x, n, ref, s);
      for (size_t i = 0; i < y->size(); ++i)
        ASSERT_NEAR(double((*y)[i]), ref[i], bound(m->w.type, s[i], false))
            << wtype_info(m->w.type).name << " " << kernels::matmul_path_name(fp.path) << " i=" << i;
    }
  }
}

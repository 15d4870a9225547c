// Every matmul path (scalar, AVX2, AVX-512 VNNI, AMX, NEON, NEON with SDOT; forced explicitly) against the scalar references on
// random inputs of awkward sizes: row counts that are not multiples of the kernels' 16-row groups, token
// counts on both sides of every switch-over between kernels (1..70), rows wider than the integer GEMMs'
// 2048-column panels, two threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/block_data.h"
#include "quant/ggml_ref.h"
#include "quant/weight.h"

using namespace g4;
using kernels::Isa;

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
  Weight w;
};

// Types given quantized rows. The grid i-quants get random blocks (with sane scales), which reach every grid
// point and sign pattern; IQ2_XXS, IQ2_XS and IQ1_S have no quantizer here.
bool has_quantizer(WType t) {
  switch (t) {
    case WType::IQ2_XXS: case WType::IQ2_XS: case WType::IQ2_S: case WType::IQ3_XXS: case WType::IQ3_S:
    case WType::IQ1_S: case WType::IQ1_M:
      return false;
    default:
      return true;
  }
}

Mat make_weight(WType t, int64_t rows, int64_t cols, uint64_t seed) {
  Rng r(seed);
  Mat m;
  const size_t rb = wtype_row_bytes(t, cols);
  m.bytes.resize(rb * size_t(rows) + 64);
  std::vector<float> row(static_cast<size_t>(cols));
  if (!has_quantizer(t)) {  // the grid i-quants: random blocks with sane scales
    const auto blocks = test::random_blocks(t, rows * cols / wtype_info(t).block_elems, seed);
    std::copy(blocks.begin(), blocks.end(), m.bytes.begin());
  }
  for (int64_t i = 0; i < rows && has_quantizer(t); ++i) {
    for (auto& v : row) v = r.sym() * (1.0f + float(i % 3));
    quantize_row(t, row.data(), m.bytes.data() + rb * size_t(i), cols);
  }
  m.w = Weight{m.bytes.data(), t, rows, cols};
  return m;
}

std::vector<float> make_x(size_t n, int64_t cols, uint64_t seed) {
  Rng r(seed);
  std::vector<float> x(n * size_t(cols));
  for (auto& v : x) v = r.sym();
  // an outlier per token and an all-zero block, as real activations have
  for (size_t t = 0; t < n; ++t) {
    x[t * size_t(cols) + (t * 7) % size_t(cols)] = 20.0f;
    if (cols >= 64)
      for (int j = 32; j < 64; ++j) x[t * size_t(cols) + size_t(j)] = 0.0f;
  }
  return x;
}

// sum_k |x_k w_k| for every output, the natural scale of rounding errors.
std::vector<float> abs_dot(const Weight& w, const float* x, size_t n) {
  std::vector<float> out(n * size_t(w.rows)), row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w, r, row.data());
    for (size_t t = 0; t < n; ++t) {
      double s = 0;
      for (int64_t c = 0; c < w.cols; ++c) s += std::fabs(double(x[t * size_t(w.cols) + size_t(c)]) * row[size_t(c)]);
      out[t * size_t(w.rows) + size_t(r)] = float(s);
    }
  }
  return out;
}

// Bound on |x.w - q8(x).w|: each activation moves by at most half a step (amax of its 32 values / 254).
std::vector<float> q8_bound(const Weight& w, const float* x, size_t n) {
  std::vector<float> out(n * size_t(w.rows)), row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    dequantize_row(w, r, row.data());
    for (size_t t = 0; t < n; ++t) {
      const float* xt = x + t * size_t(w.cols);
      double s = 0;
      for (int64_t b = 0; b < w.cols / 32; ++b) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xt[b * 32 + j]));
        for (int j = 0; j < 32; ++j) s += amax / 254.0 * std::fabs(row[size_t(b * 32 + j)]);
      }
      out[t * size_t(w.rows) + size_t(r)] = float(s);
    }
  }
  return out;
}

// Types whose fast paths quantize activations to 8 bits (the rest compute in f32).
bool quantized(WType t) { return kernels::quantizes_activations(t); }

// Whether the path level isa (forced) takes for n tokens multiplies 8-bit activations.
bool q8_path(WType t, Isa isa, size_t n) {
  (void)isa;  // matmul_path follows the forced level
  const kernels::MatmulPath p = kernels::matmul_path(t, n);
  return quantized(t) && p != kernels::MatmulPath::Scalar && p != kernels::MatmulPath::DequantTiles;
}

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx, Isa::Neon, Isa::NeonDot})
    if (kernels::isa_supported(i)) v.push_back(i);
  return v;
}

struct ForceGuard {
  explicit ForceGuard(Isa i) { kernels::force_isa(i); }
  ~ForceGuard() { kernels::clear_forced_isa(); }
};

std::string where_str(WType t, Isa isa, int64_t rows, int64_t cols, size_t n, size_t i) {
  return std::string(wtype_info(t).name) + " " + kernels::isa_name(isa) + " " +
         kernels::matmul_path_name(kernels::matmul_path(t, n)) + " rows=" + std::to_string(rows) +
         " cols=" + std::to_string(cols) + " n=" + std::to_string(n) + " i=" + std::to_string(i);
}

// Checks y (one matmul path's output) against the references: f32 math for float weights and the scalar
// level, otherwise the scalar 8-bit-activation reference up to f32 summation order (and the true product
// within the activation quantization's bound).
void check_output(WType t, Isa isa, int64_t rows, int64_t cols, size_t n, const std::vector<float>& y,
                  const std::vector<float>& ref, const std::vector<float>& q8ref, const std::vector<float>& scale,
                  const std::vector<float>& qbound) {
  for (size_t i = 0; i < y.size(); ++i) {
    if (!q8_path(t, isa, n)) {
      ASSERT_NEAR(y[i], ref[i], 4e-6f * scale[i] + 1e-30f) << where_str(t, isa, rows, cols, n, i);
    } else {
      ASSERT_NEAR(y[i], q8ref[i], 2e-5f * scale[i] + 1e-6f) << where_str(t, isa, rows, cols, n, i);
      ASSERT_NEAR(y[i], ref[i], 1.01f * qbound[i] + 2e-5f * scale[i] + 1e-6f) << where_str(t, isa, rows, cols, n, i);
    }
  }
}

// Runs every supported level on one shape; returns how many of them used the AMX GEMM.
int run_case(WType t, int64_t rows, int64_t cols, size_t n, ThreadPool& pool) {
  Mat m = make_weight(t, rows, cols, uint64_t(rows * 131 + cols));
  auto x = make_x(n, cols, uint64_t(n + 3));
  std::vector<float> ref(n * size_t(rows)), q8ref(n * size_t(rows));
  ThreadPool one(1);
  kernels::matmul_f32_accum(m.w, x.data(), n, ref.data(), one);
  if (quantized(t)) kernels::matmul_q8_scalar(m.w, x.data(), n, q8ref.data());
  const auto scale = abs_dot(m.w, x.data(), n);
  const auto qbound = quantized(t) ? q8_bound(m.w, x.data(), n) : scale;
  int amx_runs = 0;
  for (Isa isa : isas()) {
    ForceGuard g(isa);
    std::vector<float> y(n * size_t(rows), -12345.0f);
    const uint64_t panels = kernels::amx_panels_done();
    matmul(m.w, x.data(), n, y.data(), pool);
    if (kernels::matmul_path(t, n) == kernels::MatmulPath::AmxInt8Gemm) {
      EXPECT_GT(kernels::amx_panels_done(), panels) << where_str(t, isa, rows, cols, n, 0) << ": AMX GEMM did not run";
      ++amx_runs;
    }
    check_output(t, isa, rows, cols, n, y, ref, q8ref, scale, qbound);
    if (::testing::Test::HasFatalFailure()) return amx_runs;
  }
  return amx_runs;
}

}  // namespace

TEST(MatmulKernels, ReportsIsa) {
  std::printf("best isa: %s\n", kernels::isa_name(kernels::best_isa()));
  EXPECT_TRUE(kernels::isa_supported(Isa::Scalar));
}

#if defined(__aarch64__)
// On ARM64 the NEON kernels are the fast path: both levels exist (the dot-product one where the CPU says
// so) and take the quantized types' matrix-vector products, so AwkwardSizesAllPaths checks them.
TEST(MatmulKernels, NeonLevelsOnArm64) {
  const CpuFeatures& f = cpu_features();
  std::printf("cpu features: %s\n", cpu_feature_string());
  EXPECT_TRUE(kernels::isa_supported(Isa::Neon));
  EXPECT_EQ(kernels::isa_supported(Isa::NeonDot), f.dotprod);
  EXPECT_EQ(kernels::best_isa(), f.dotprod ? Isa::NeonDot : Isa::Neon);
  EXPECT_FALSE(kernels::isa_supported(Isa::Avx2));
  for (Isa isa : {Isa::Neon, Isa::NeonDot}) {
    if (!kernels::isa_supported(isa)) continue;
    ForceGuard g(isa);
    for (WType t : {WType::Q8_0, WType::Q4_0, WType::Q4_K, WType::Q5_K, WType::Q6_K})
      EXPECT_EQ(kernels::matmul_path(t, 1), kernels::MatmulPath::Rows) << wtype_info(t).name;
  }
}
#endif

class MatmulTypes : public ::testing::TestWithParam<WType> {};

TEST_P(MatmulTypes, AwkwardSizesAllPaths) {
  const WType t = GetParam();
  ThreadPool pool(2);
  const int64_t bs = wtype_info(t).block_elems;
  std::vector<int64_t> cols_list;
  if (bs == 1) cols_list = {1, 15, 33, 100, 515};
  else if (bs == 32) cols_list = {32, 96, 160, 224, 544};
  else cols_list = {256, 768};
  for (int64_t cols : cols_list)
    for (int64_t rows : {1, 17, 33})
      for (size_t n : {1, 2, 3, 5})
        run_case(t, rows, cols, n, pool);
  // Every token count from 1 to 70: the switch-overs between the matrix-vector kernels and the GEMMs, and
  // partial, whole and several 16-token tiles of the AMX GEMM.
  const int64_t narrow = bs == 1 ? 77 : bs * 3;
  for (size_t n = 1; n <= 70; ++n) {
    run_case(t, n % 2 ? 37 : 18, narrow, n, pool);
    if (HasFatalFailure()) return;
  }
  // Rows wider than the integer GEMMs' 2048-column panels, with several panels per thread.
  const int64_t wide = bs == 1 ? 2100 : (bs == 32 ? 2144 : 2304);
  for (size_t n : {9, 21, 40})
    run_case(t, 67, wide, n, pool);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes,
                         ::testing::Values(WType::F32, WType::F16, WType::BF16, WType::Q8_0, WType::Q4_0, WType::Q4_K,
                                           WType::Q5_K, WType::Q6_K, WType::Q4_1, WType::Q5_0, WType::Q5_1,
                                           WType::Q2_K, WType::Q3_K, WType::IQ4_NL, WType::IQ4_XS, WType::IQ3_XXS,
                                           WType::IQ3_S, WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S, WType::IQ1_S,
                                           WType::IQ1_M, WType::MXFP4),
                         [](const auto& info) { return std::string(wtype_info(info.param).name); });

TEST(MatmulKernels, ExpertSliceTouchesOnlyItsRows) {
  // A stacked [experts * rows, cols] tensor: a slice must give the same result as a standalone weight.
  Mat m = make_weight(WType::Q4_0, 4 * 24, 128, 3);
  auto x = make_x(1, 128, 4);
  ThreadPool pool(2);
  Weight slice = m.w.slice_rows(2 * 24, 24);
  std::vector<float> a(24), b(24);
  matmul(slice, x.data(), 1, a.data(), pool);
  Mat copy;
  copy.bytes.assign(slice.data, slice.data + slice.bytes());
  copy.w = Weight{copy.bytes.data(), WType::Q4_0, 24, 128};
  matmul(copy.w, x.data(), 1, b.data(), pool);
  EXPECT_EQ(a, b);
}

#if defined(__x86_64__)
// The AMX GEMM must run (not merely be compiled) wherever the CPU has AMX: this machine's result says
// whether it did.
TEST(MatmulKernels, AmxInt8GemmRunsWhereTheCpuHasAmx) {
  const CpuFeatures& f = cpu_features();
  if (!(f.amx_tile && f.amx_int8 && f.has_avx512_vnni_level()))
    GTEST_SKIP() << "NOT RUN: this CPU has no AMX-INT8, the AMX GEMM was not tested here";
  const char* off = std::getenv("G4_NO_AMX");
  if (off && off[0] && off[0] != '0') GTEST_SKIP() << "NOT RUN: G4_NO_AMX is set, the AMX GEMM was not tested";
  ASSERT_TRUE(amx_enable()) << "the CPU reports AMX but the kernel refused tile permission (ARCH_REQ_XCOMP_PERM)";
  ASSERT_TRUE(kernels::isa_supported(Isa::Amx));
  EXPECT_EQ(kernels::best_isa(), Isa::Amx);
  ThreadPool pool(2);
  int runs = 0;
  const WType types[] = {WType::Q8_0,    WType::Q4_0,    WType::Q4_K,   WType::Q5_K,  WType::Q6_K,  WType::Q4_1,
                         WType::Q5_0,    WType::Q5_1,    WType::Q2_K,   WType::Q3_K,  WType::IQ4_NL, WType::IQ4_XS,
                         WType::IQ3_S,   WType::MXFP4,   WType::IQ3_XXS, WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S,
                         WType::IQ1_S,   WType::IQ1_M};
  for (WType t : types) {
    const int64_t bs = wtype_info(t).block_elems;
    runs += run_case(t, 45, bs * (bs == 32 ? 5 : 1), 33, pool);
  }
  EXPECT_EQ(runs, int(std::size(types)));
}

// The types beyond the original five (those of the llama-quantize mixes and the grid i-quants) take the
// integer GEMMs on the AVX-512 levels (VNNI from 5 tokens, AMX from 32) and keep their paths elsewhere: the
// matrix-vector kernels up to 4 tokens, f32 tiles of dequantized rows for more on AVX2.
// MatchesGgmlDequantizedProduct checks the products of each path against ggml.
TEST(MatmulKernels, MixTypesTakeTheIntegerGemms) {
  const WType types[] = {WType::Q4_1,   WType::Q5_0,   WType::Q5_1,  WType::Q2_K,    WType::Q3_K,
                         WType::IQ4_NL, WType::IQ4_XS, WType::IQ3_S, WType::MXFP4,   WType::IQ3_XXS,
                         WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S, WType::IQ1_S, WType::IQ1_M};
  using kernels::MatmulPath;
  for (WType t : types) {
    const std::string name = wtype_info(t).name;
    if (kernels::isa_supported(Isa::Avx2)) {
      ForceGuard g(Isa::Avx2);
      EXPECT_EQ(kernels::matmul_path(t, 4), MatmulPath::Rows) << name;
      EXPECT_EQ(kernels::matmul_path(t, 40), MatmulPath::DequantTiles) << name;
    }
    if (kernels::isa_supported(Isa::Avx512)) {
      ForceGuard g(Isa::Avx512);
      EXPECT_EQ(kernels::matmul_path(t, 4), MatmulPath::Rows) << name;
      EXPECT_EQ(kernels::matmul_path(t, 5), MatmulPath::VnniInt8Gemm) << name;
      EXPECT_EQ(kernels::matmul_path(t, 40), MatmulPath::VnniInt8Gemm) << name;
    }
    if (kernels::isa_supported(Isa::Amx)) {
      ForceGuard g(Isa::Amx);
      EXPECT_EQ(kernels::matmul_path(t, 31), MatmulPath::VnniInt8Gemm) << name;
      EXPECT_EQ(kernels::matmul_path(t, 32), MatmulPath::AmxInt8Gemm) << name;
    }
  }
}
#endif

// Several weights sharing one activation pass (q/k/v, gate/up), rows split across threads at and
// between the weights' boundaries, on every level; and weights of different types in one call (a Q6_K v
// beside Q4_K q and k), which go one by one. Paths with f32 activations (the dequantized tiles that
// AVX2 keeps for the newer types) are compared with the f32 reference instead.
TEST(MatmulKernels, ManyWeightsShareOnePass) {
  ThreadPool pool(2);
  const std::pair<WType, WType> cases[] = {
      {WType::Q4_0, WType::Q4_0}, {WType::Q4_K, WType::Q4_K}, {WType::Q4_K, WType::Q6_K},
      {WType::IQ4_NL, WType::IQ4_NL}, {WType::Q2_K, WType::Q2_K}, {WType::Q3_K, WType::Q5_K}};
  for (const auto& [ta, tc] : cases) {
    const int64_t cols = wtype_info(ta).block_elems == 32 ? 96 : 256;
    Mat a = make_weight(ta, 37, cols, 1), b = make_weight(ta, 5, cols, 2), c = make_weight(tc, 50, cols, 3);
    for (size_t n : {1, 5, 8, 16, 33}) {
      auto x = make_x(n, cols, n);
      std::vector<float> qa(n * 37), qb(n * 5), qc(n * 50), fa(n * 37), fb(n * 5), fc(n * 50);
      kernels::matmul_q8_scalar(a.w, x.data(), n, qa.data());
      kernels::matmul_q8_scalar(b.w, x.data(), n, qb.data());
      kernels::matmul_q8_scalar(c.w, x.data(), n, qc.data());
      kernels::matmul_f32_accum(a.w, x.data(), n, fa.data(), pool);
      kernels::matmul_f32_accum(b.w, x.data(), n, fb.data(), pool);
      kernels::matmul_f32_accum(c.w, x.data(), n, fc.data(), pool);
      const auto sa = abs_dot(a.w, x.data(), n), sb = abs_dot(b.w, x.data(), n), sc = abs_dot(c.w, x.data(), n);
      for (Isa isa : isas()) {
        if (isa == Isa::Scalar) continue;
        ForceGuard g(isa);
        const auto& ra = q8_path(ta, isa, n) ? qa : fa;
        const auto& rb = q8_path(ta, isa, n) ? qb : fb;
        const auto& rc = q8_path(tc, isa, n) ? qc : fc;
        std::vector<float> ya(n * 37), yb(n * 5), yc(n * 50);
        matmul_many({{&a.w, ya.data()}, {&b.w, yb.data()}, {&c.w, yc.data()}}, x.data(), n, pool);
        const std::string at = std::string(wtype_info(tc).name) + " " + kernels::isa_name(isa) + " n=" +
                               std::to_string(n) + " i=";
        for (size_t i = 0; i < ya.size(); ++i) ASSERT_NEAR(ya[i], ra[i], 2e-5f * sa[i] + 1e-6f) << at << i;
        for (size_t i = 0; i < yb.size(); ++i) ASSERT_NEAR(yb[i], rb[i], 2e-5f * sb[i] + 1e-6f) << at << i;
        for (size_t i = 0; i < yc.size(); ++i) ASSERT_NEAR(yc[i], rc[i], 2e-5f * sc[i] + 1e-6f) << at << i;
      }
    }
  }
}

TEST(MatmulKernels, ForcingUnsupportedIsaThrows) {
  if (!kernels::isa_supported(Isa::Amx)) {
    EXPECT_ANY_THROW(kernels::force_isa(Isa::Amx));
  } else {
    kernels::force_isa(Isa::Avx2);
    EXPECT_EQ(kernels::active_isa(), Isa::Avx2);
    kernels::clear_forced_isa();
    EXPECT_EQ(kernels::active_isa(), kernels::best_isa());
  }
}

// Every type on every level against the product of ggml's own dequantization (llama.cpp's libggml-base.so,
// dequantize_row_*) computed in double: within summation-order tolerance of it, for the activations the
// path multiplies (the f32 values, or for the 8-bit paths the activations rounded to 8 bits per 32 values,
// d = amax / 127, as the kernels document).
TEST(MatmulKernels, MatchesGgmlDequantizedProduct) {
  const test::GgmlRef& ggml = test::ggml_ref();
  ASSERT_TRUE(ggml.ok()) << ggml.error();
  ThreadPool pool(2);
  const WType types[] = {WType::Q8_0, WType::Q4_0, WType::Q4_1, WType::Q5_0, WType::Q5_1, WType::Q2_K, WType::Q3_K,
                         WType::Q4_K, WType::Q5_K, WType::Q6_K, WType::IQ4_NL, WType::IQ4_XS, WType::IQ3_XXS,
                         WType::IQ3_S, WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S, WType::IQ1_S, WType::IQ1_M,
                         WType::MXFP4};
  std::map<WType, std::vector<kernels::MatmulPath>> paths_seen;
  for (WType t : types) {
    const int64_t rows = 37, cols = 512;
    Mat m = make_weight(t, rows, cols, 99);
    const auto to_float = ggml.to_float(test::ggml_suffix(t));
    ASSERT_NE(to_float, nullptr) << wtype_info(t).name;
    std::vector<float> wf(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r) to_float(m.w.row_ptr(r), wf.data() + r * cols, cols);
    for (size_t n : {1, 3, 9, 40}) {
      auto x = make_x(n, cols, n * 5 + 1);
      // The activations each path multiplies.
      std::vector<float> xq = x;
      for (size_t b = 0; b < x.size() / 32; ++b) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; ++j) xq[b * 32 + j] = std::nearbyint(x[b * 32 + j] * id) * d;
      }
      for (Isa isa : isas()) {
        ForceGuard g(isa);
        const bool q8 = q8_path(t, isa, n);
        const std::vector<float>& xa = q8 ? xq : x;
        std::vector<float> y(n * size_t(rows), -12345.0f);
        const kernels::MatmulPath path = kernels::matmul_path(t, n);
        const uint64_t panels = kernels::amx_panels_done();
        matmul(m.w, x.data(), n, y.data(), pool);
        paths_seen[t].push_back(path);
        if (path == kernels::MatmulPath::AmxInt8Gemm) {
          ASSERT_GT(kernels::amx_panels_done(), panels) << where_str(t, isa, rows, cols, n, 0) << ": AMX GEMM did not run";
        }
        for (size_t tk = 0; tk < n; ++tk)
          for (int64_t r = 0; r < rows; ++r) {
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < cols; ++c) {
              const double p = double(wf[size_t(r * cols + c)]) * xa[tk * size_t(cols) + size_t(c)];
              ref += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(y[tk * size_t(rows) + size_t(r)], ref, 2e-5 * mag + 1e-6)
                << where_str(t, isa, rows, cols, n, tk * size_t(rows) + size_t(r));
          }
      }
    }
  }
  // The integer GEMMs were among the paths compared, for every type they handle, wherever the CPU has them.
  for (WType t : types) {
    const auto& seen = paths_seen[t];
    const auto has = [&](kernels::MatmulPath p) { return std::find(seen.begin(), seen.end(), p) != seen.end(); };
    if (!kernels::quantizes_activations(t)) continue;
    if (kernels::isa_supported(Isa::Avx512)) {
      EXPECT_TRUE(has(kernels::MatmulPath::VnniInt8Gemm)) << wtype_info(t).name << ": the VNNI GEMM was not compared";
    }
    if (kernels::isa_supported(Isa::Amx)) {
      EXPECT_TRUE(has(kernels::MatmulPath::AmxInt8Gemm)) << wtype_info(t).name << ": the AMX GEMM was not compared";
    }
  }
}

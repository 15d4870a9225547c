// Every matmul path (scalar, AVX2, AVX-512 VNNI, AMX; forced explicitly) against the scalar references on
// random inputs of awkward sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/kernels.h"
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

Mat make_weight(WType t, int64_t rows, int64_t cols, uint64_t seed) {
  Rng r(seed);
  Mat m;
  const size_t rb = wtype_row_bytes(t, cols);
  m.bytes.resize(rb * size_t(rows) + 64);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t i = 0; i < rows; ++i) {
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

bool quantized(WType t) { return !(t == WType::F32 || t == WType::F16 || t == WType::BF16); }

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx})
    if (kernels::isa_supported(i)) v.push_back(i);
  return v;
}

struct ForceGuard {
  explicit ForceGuard(Isa i) { kernels::force_isa(i); }
  ~ForceGuard() { kernels::clear_forced_isa(); }
};

void run_case(WType t, int64_t rows, int64_t cols, size_t n, ThreadPool& pool) {
  Mat m = make_weight(t, rows, cols, uint64_t(rows * 131 + cols));
  auto x = make_x(n, cols, uint64_t(n + 3));
  std::vector<float> ref(n * size_t(rows)), q8ref(n * size_t(rows));
  ThreadPool one(1);
  kernels::matmul_f32_accum(m.w, x.data(), n, ref.data(), one);
  if (quantized(t)) kernels::matmul_q8_scalar(m.w, x.data(), n, q8ref.data());
  const auto scale = abs_dot(m.w, x.data(), n);
  const auto qbound = quantized(t) ? q8_bound(m.w, x.data(), n) : scale;
  for (Isa isa : isas()) {
    ForceGuard g(isa);
    std::vector<float> y(n * size_t(rows), -12345.0f);
    matmul(m.w, x.data(), n, y.data(), pool);
    const bool amx = kernels::matmul_rounds_to_bf16(t, n);
    for (size_t i = 0; i < y.size(); ++i) {
      const std::string where = std::string(wtype_info(t).name) + " " + kernels::isa_name(isa) + " rows=" +
                                std::to_string(rows) + " cols=" + std::to_string(cols) + " n=" + std::to_string(n) +
                                " i=" + std::to_string(i);
      if (!quantized(t) || isa == Isa::Scalar) {
        // f32 math up to summation order
        ASSERT_NEAR(y[i], ref[i], 4e-6f * scale[i] + 1e-30f) << where;
      } else if (amx) {
        // bf16 weights and activations, f32 accumulation
        ASSERT_NEAR(y[i], ref[i], 1.2e-2f * scale[i] + 1e-6f) << where;
      } else {
        // the same 8-bit activations as the scalar reference: equal up to f32 summation order
        ASSERT_NEAR(y[i], q8ref[i], 2e-5f * scale[i] + 1e-6f) << where;
        ASSERT_NEAR(y[i], ref[i], 1.01f * qbound[i] + 2e-5f * scale[i] + 1e-6f) << where;
      }
    }
  }
}

}  // namespace

TEST(MatmulKernels, ReportsIsa) {
  std::printf("best isa: %s\n", kernels::isa_name(kernels::best_isa()));
  EXPECT_TRUE(kernels::isa_supported(Isa::Scalar));
}

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
  for (int64_t rows : {18, 67})
    for (size_t n : {17, 32, 69})
      run_case(t, rows, bs == 1 ? 77 : bs * 3, n, pool);
  // Prefill GEMMs: token counts around the switch-over from the matrix-vector kernels, and rows of more
  // than 2048 values (the integer GEMM repacks weights in chunks of 2048 columns).
  for (size_t n : {8, 9, 12})
    run_case(t, 49, bs == 1 ? 77 : bs * 3, n, pool);
  run_case(t, 49, bs == 1 ? 2100 : (bs == 32 ? 2144 : 2304), 21, pool);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTypes,
                         ::testing::Values(WType::F32, WType::F16, WType::BF16, WType::Q8_0, WType::Q4_0, WType::Q4_K,
                                           WType::Q5_K, WType::Q6_K),
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

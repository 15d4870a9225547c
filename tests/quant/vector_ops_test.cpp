// The typed attention kernels (f32 vector against an f16 / bf16 / Q8_0 row) against a double-precision
// reference on the decoded row, for the dispatched path (AVX-512 where the CPU has it) and the portable
// one, on lengths that do and do not fill whole 16-lane registers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "quant/kernels.h"
#include "quant/vector_ops.h"
#include "quant/weight.h"

namespace g4 {
namespace {

using Dot = float (*)(const float*, const uint8_t*, int64_t);
using Axpy = void (*)(float, const uint8_t*, float*, int64_t);

struct Row {
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;  // what the kernels must see: the stored values as f32
};

Row make_row(WType t, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  Row r;
  r.bytes.resize(wtype_row_bytes(t, n));
  quantize_row(t, x.data(), r.bytes.data(), n);
  r.decoded.resize(size_t(n));
  dequantize_blocks(t, r.bytes.data(), r.decoded.data(), n);
  return r;
}

std::vector<float> random_vector(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// f32 accumulation: the portable code sums 8 lanes of n/8 products each, the AVX-512 code 32 lanes, so
// the rounding error is at most (n/8 + 8) units of 2^-24 of the sum of magnitudes.
void check_dot(Dot dot, WType t, int64_t n, const char* path) {
  std::mt19937 rng(uint32_t(n * 31 + int(t)));
  const Row row = make_row(t, n, rng);
  const std::vector<float> a = random_vector(n, rng);
  double want = 0, mag = 0;
  for (int64_t i = 0; i < n; ++i) {
    want += double(a[size_t(i)]) * row.decoded[size_t(i)];
    mag += std::fabs(double(a[size_t(i)]) * row.decoded[size_t(i)]);
  }
  const float got = dot(a.data(), row.bytes.data(), n);
  EXPECT_NEAR(got, want, double(n / 8 + 8) * 6e-8 * mag + 1e-9) << path << " " << wtype_info(t).name << " dot, n=" << n;
}

void check_axpy(Axpy axpy, WType t, int64_t n, const char* path) {
  std::mt19937 rng(uint32_t(n * 17 + int(t)));
  const Row row = make_row(t, n, rng);
  std::vector<float> y = random_vector(n, rng);
  const std::vector<float> y0 = y;
  const float a = 0.37f;
  axpy(a, row.bytes.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double want = double(y0[size_t(i)]) + double(a) * row.decoded[size_t(i)];
    const double mag = std::fabs(double(y0[size_t(i)])) + std::fabs(double(a) * row.decoded[size_t(i)]);
    ASSERT_NEAR(y[size_t(i)], want, 3e-7 * mag + 1e-9) << path << " " << wtype_info(t).name << " axpy, n=" << n << " i=" << i;
  }
}

const uint16_t* u16(const uint8_t* p) { return reinterpret_cast<const uint16_t*>(p); }

struct Kernels {
  WType type;
  Dot dot, dot_portable;
  Axpy axpy, axpy_portable;
};

const Kernels kKernels[] = {
    {WType::F16,
     [](const float* a, const uint8_t* b, int64_t n) { return kernels::vec_dot_f16(a, u16(b), n); },
     [](const float* a, const uint8_t* b, int64_t n) { return kernels::portable::dot_f16(a, u16(b), n); },
     [](float a, const uint8_t* x, float* y, int64_t n) { kernels::vec_axpy_f16(a, u16(x), y, n); },
     [](float a, const uint8_t* x, float* y, int64_t n) { kernels::portable::axpy_f16(a, u16(x), y, n); }},
    {WType::BF16,
     [](const float* a, const uint8_t* b, int64_t n) { return kernels::vec_dot_bf16(a, u16(b), n); },
     [](const float* a, const uint8_t* b, int64_t n) { return kernels::portable::dot_bf16(a, u16(b), n); },
     [](float a, const uint8_t* x, float* y, int64_t n) { kernels::vec_axpy_bf16(a, u16(x), y, n); },
     [](float a, const uint8_t* x, float* y, int64_t n) { kernels::portable::axpy_bf16(a, u16(x), y, n); }},
    {WType::Q8_0, kernels::vec_dot_q8_0, kernels::portable::dot_q8_0, kernels::vec_axpy_q8_0,
     kernels::portable::axpy_q8_0},
};

std::vector<int64_t> lengths(WType t) {
  if (t == WType::Q8_0) return {32, 64, 96, 256, 512};  // whole blocks only
  return {1, 7, 15, 16, 17, 32, 33, 64, 96, 100, 256, 512};
}

TEST(TypedVectorOps, DotMatchesDoubleReference) {
  for (const Kernels& k : kKernels)
    for (int64_t n : lengths(k.type)) {
      check_dot(k.dot, k.type, n, "dispatched");
      check_dot(k.dot_portable, k.type, n, "portable");
    }
}

TEST(TypedVectorOps, AxpyMatchesDoubleReference) {
  for (const Kernels& k : kKernels)
    for (int64_t n : lengths(k.type)) {
      check_axpy(k.axpy, k.type, n, "dispatched");
      check_axpy(k.axpy_portable, k.type, n, "portable");
    }
}

// f16 subnormals and signed zeros decode exactly on both paths (the sum is exact in f32 here).
TEST(TypedVectorOps, F16SubnormalsAndZeros) {
  const std::vector<uint16_t> row = {0x0001, 0x8000, 0x03ff, 0x0000, 0x0100, 0x8100, 0x0200, 0x8001,
                                     0x0001, 0x0002, 0x0004, 0x0008, 0x0010, 0x0020, 0x0040, 0x0080};
  std::vector<float> ones(row.size(), 1.0f);
  double want = 0;
  for (uint16_t h : row) want += f16_to_f32(h);
  EXPECT_EQ(kernels::vec_dot_f16(ones.data(), row.data(), int64_t(row.size())), float(want));
  EXPECT_EQ(kernels::portable::dot_f16(ones.data(), row.data(), int64_t(row.size())), float(want));
}

}  // namespace
}  // namespace g4

namespace g4 {
namespace {

// Soft-capping (cap * tanh(x / cap)) against double precision, across the range where tanh bends and
// where it saturates, on lengths with and without a partial 16-lane tail.
TEST(VectorOps, SoftcapMatchesTanh) {
  for (int64_t n : {1, 15, 16, 17, 1000}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = -200.0f + 400.0f * float(i) / float(std::max<int64_t>(1, n - 1));
    if (n == 1) x[0] = 0.37f;
    std::vector<float> y = x;
    kernels::vec_softcap(y.data(), 30.0f, n);
    for (int64_t i = 0; i < n; ++i) {
      const double ref = 30.0 * std::tanh(double(x[size_t(i)]) / 30.0);
      ASSERT_NEAR(y[size_t(i)], ref, 4e-6 * 30.0) << "x=" << x[size_t(i)] << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace g4

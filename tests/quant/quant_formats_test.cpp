// Block formats: bit-exact dequantization (against an independent element-wise decoder written from the
// format definition for the original types, and for every type against llama.cpp's libggml-base.so, which
// must be installed: see quant/ggml_ref.h), reference quantizers (identical bytes to ggml_quantize_chunk
// without an importance matrix, live, and by recorded hashes), and quantize -> dequantize error bounds.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/kernels.h"
#include "quant/weight.h"
#include "quant/block_data.h"
#include "quant/ggml_ref.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace g4;

namespace {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint32_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return uint32_t(s >> 11);
  }
  float uniform() { return float(next() & 0xffffff) / float(1 << 24); }  // [0, 1)
  float normalish() {  // Irwin-Hall: deterministic, no libm
    float a = 0;
    for (int i = 0; i < 4; ++i) a += uniform();
    return (a - 2.0f) * 1.7320508f;
  }
};

// Test data with awkward blocks: zeros, constants, outliers, tiny values, one sign only.
std::vector<float> make_input(int64_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = r.normalish();
  for (int64_t b = 0; b * 32 < n; ++b) {
    float* p = x.data() + b * 32;
    switch (b % 9) {
      case 1: for (int j = 0; j < 32; ++j) p[j] = 0.0f; break;
      case 2: for (int j = 0; j < 32; ++j) p[j] = 0.37f; break;
      case 3: p[r.next() % 32] = 25.0f; break;
      case 4: for (int j = 0; j < 32; ++j) p[j] *= 1e-6f; break;
      case 5: for (int j = 0; j < 32; ++j) p[j] = std::fabs(p[j]) + 0.5f; break;
      case 6: for (int j = 0; j < 32; ++j) p[j] = -std::fabs(p[j]); break;
      default: break;
    }
  }
  return x;
}

uint64_t fnv1a(const std::vector<uint8_t>& v) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : v) h = (h ^ b) * 1099511628211ull;
  return h;
}

// Types with an independent decoder below and recorded quantizer hashes.
const WType kQuantTypes[] = {WType::Q8_0, WType::Q4_0, WType::Q4_K, WType::Q5_K, WType::Q6_K};
// Every block type the engine reads.
const WType kAllBlockTypes[] = {WType::Q8_0, WType::Q4_0, WType::Q4_1, WType::Q5_0, WType::Q5_1, WType::Q2_K,
                                WType::Q3_K, WType::Q4_K, WType::Q5_K, WType::Q6_K, WType::IQ4_NL, WType::IQ4_XS,
                                WType::IQ3_XXS, WType::IQ3_S, WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S,
                                WType::IQ1_S, WType::IQ1_M, WType::MXFP4};
// Types with a reference quantizer here, but for the grid types below.
const WType kQuantizerTypes[] = {WType::Q8_0, WType::Q4_0, WType::Q4_1, WType::Q5_0, WType::Q5_1, WType::Q2_K,
                                 WType::Q3_K, WType::Q4_K, WType::Q5_K, WType::Q6_K, WType::IQ4_NL, WType::IQ4_XS,
                                 WType::MXFP4};
// The grid types ggml quantizes without an importance matrix (a codebook search with neighbour tables),
// compared with ggml in one test (GridQuantizersMatchGgml): ggml builds its tables for IQ2_S and IQ1_M in
// seconds, once per process. The other grid types need an importance matrix (QuantizersThatNeedAnImatrixAreRefused).
const WType kGridQuantizerTypes[] = {WType::IQ3_XXS, WType::IQ3_S, WType::IQ2_S, WType::IQ1_M};

// ---------------------------------------------------------------- independent element decoders
uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

int k_scale(const uint8_t* s, int j) { return j < 4 ? (s[j] & 63) : ((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4)); }
int k_min(const uint8_t* s, int j) { return j < 4 ? (s[j + 4] & 63) : ((s[j + 4] >> 4) | ((s[j] >> 6) << 4)); }

// Element e of a block, following the layouts in ggml-common.h (and ggml's order of float operations).
float decode_element(WType t, const uint8_t* blk, int e) {
  switch (t) {
    case WType::Q8_0: return float(int8_t(blk[2 + e])) * f16_to_f32(rd16(blk));
    case WType::Q4_0: {
      const uint8_t byte = blk[2 + (e % 16)];
      const int q = (e < 16 ? (byte & 15) : (byte >> 4)) - 8;
      return float(q) * f16_to_f32(rd16(blk));
    }
    case WType::Q4_K: case WType::Q5_K: {
      const bool five = t == WType::Q5_K;
      const int j = e / 32;
      const uint8_t* qs = blk + (five ? 48 : 16);
      const uint8_t byte = qs[(j / 2) * 32 + e % 32];
      int q = (j % 2) ? (byte >> 4) : (byte & 15);
      if (five && ((blk[16 + e % 32] >> j) & 1)) q += 16;
      const float dsc = f16_to_f32(rd16(blk)) * float(k_scale(blk + 4, j));
      const float dm = f16_to_f32(rd16(blk + 2)) * float(k_min(blk + 4, j));
      return dsc * float(q) - dm;
    }
    case WType::Q6_K: {
      const int half = e / 128, w = e % 128, quarter = w / 32, l = w % 32;
      const uint8_t lbyte = blk[half * 64 + (quarter % 2) * 32 + l];
      const int lo = quarter < 2 ? (lbyte & 15) : (lbyte >> 4);
      const int hi = (blk[128 + half * 32 + l] >> (2 * quarter)) & 3;
      const int q = (lo | (hi << 4)) - 32;
      const int8_t sc = int8_t(blk[192 + e / 16]);
      return f16_to_f32(rd16(blk + 208)) * float(sc) * float(q);
    }
    default: return 0;
  }
}

using test::ggml_suffix;
using test::random_blocks;

const test::GgmlRef& ggml() {
  const test::GgmlRef& g = test::ggml_ref();
  return g;
}

}  // namespace

TEST(QuantFormats, Fp16ConversionMatchesHardware) {
  // The reference quantizers store scales with core/dtype's f32_to_f16, which must round like ggml
  // (IEEE round to nearest even): compare against the CPU's own conversion, the F16C instruction on
  // x86-64 where the CPU has it, FCVT on ARM64.
#if defined(__aarch64__)
  auto hw = [](float f) {
    const __fp16 h = static_cast<__fp16>(f);
    uint16_t u;
    std::memcpy(&u, &h, sizeof u);
    return u;
  };
#else
#if defined(__x86_64__) && defined(__F16C__)
  GTEST_SKIP() << "compiled with F16C";
#endif
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no F16C";
  auto hw = [](float f) __attribute__((target("f16c"))) { return uint16_t(_cvtss_sh(f, 0)); };
#endif
  Rng r(7);
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = r.next() ^ (r.next() << 21);
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), hw(f)) << f;
  }
}

TEST(QuantFormats, DequantizeMatchesFormatDefinition) {
  for (WType t : kQuantTypes) {
    const WTypeInfo& info = wtype_info(t);
    for (int64_t nb : {1, 3, 8}) {
      auto blocks = random_blocks(t, nb, 100 + nb);
      std::vector<float> out(static_cast<size_t>(nb * info.block_elems));
      dequantize_blocks(t, blocks.data(), out.data(), nb * info.block_elems);
      for (int64_t i = 0; i < nb * info.block_elems; ++i) {
        const float ref = decode_element(t, blocks.data() + (i / info.block_elems) * info.block_bytes,
                                         int(i % info.block_elems));
        ASSERT_EQ(std::memcmp(&ref, &out[size_t(i)], 4), 0) << info.name << " element " << i << ": " << out[size_t(i)]
                                                           << " vs " << ref;
      }
    }
  }
}

TEST(QuantFormats, GgmlLibraryIsInstalled) {
  ASSERT_TRUE(ggml().ok()) << ggml().error();
}

TEST(QuantFormats, DequantizeMatchesGgml) {
  ASSERT_TRUE(ggml().ok()) << ggml().error();
  for (WType t : kAllBlockTypes) {
    const WTypeInfo& info = wtype_info(t);
    auto fn = ggml().to_float(ggml_suffix(t));
    ASSERT_NE(fn, nullptr) << "dequantize_row_" << ggml_suffix(t);
    for (uint64_t seed : {55, 56, 57}) {
      const int64_t nb = 64, n = nb * info.block_elems;
      auto blocks = random_blocks(t, nb, seed);
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
      dequantize_blocks(t, blocks.data(), a.data(), n);
      fn(blocks.data(), b.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(std::memcmp(&a[size_t(i)], &b[size_t(i)], 4), 0)
            << info.name << " element " << i << ": ours " << a[size_t(i)] << ", ggml " << b[size_t(i)];
    }
  }
}

TEST(QuantFormats, QuantizeMatchesGgml) {
  ASSERT_TRUE(ggml().ok()) << ggml().error();
  for (WType t : kQuantizerTypes) {
    ASSERT_FALSE(ggml().requires_imatrix(int(t))) << wtype_info(t).name;
    for (uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1234}) {
      const int64_t n = 256 * 9;
      auto x = make_input(n, seed);
      if (seed % 4 == 0)
        for (auto& v : x) v *= 1000.0f;
      std::vector<uint8_t> a(wtype_row_bytes(t, n)), b(a.size());
      quantize_row(t, x.data(), a.data(), n);
      // Three rows of a third each: ggml quantizes row by row.
      ASSERT_EQ(ggml().quantize(int(t), x.data(), b.data(), 3, n / 3), b.size());
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_EQ(a[i], b[i]) << wtype_info(t).name << " seed " << seed << " byte " << i << " of " << a.size();
    }
  }
}

// The grid quantizers, whose neighbour tables and scale searches have many paths, on QuantizeMatchesGgml's
// rows and on more: rows of several scales, sparse rows, rows of few distinct values (ties in IQ1_M's
// sort), and rows with all-zero sub-blocks (IQ3_S then shifts the later sub-blocks' quants, as ggml does).
TEST(QuantFormats, GridQuantizersMatchGgml) {
  ASSERT_TRUE(ggml().ok()) << ggml().error();
  const int64_t n = 256 * 9;
  std::vector<std::vector<float>> rows;
  for (uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1234}) {
    rows.push_back(make_input(n, seed));
    if (seed % 4 == 0)
      for (auto& v : rows.back()) v *= 1000.0f;
  }
  for (uint64_t r = 0; r < 16; ++r) {
    auto row = make_input(n, 100 + r);
    const float scale = r % 3 == 0 ? 1e-3f : r % 3 == 1 ? 1.0f : 50.0f;
    Rng rng(200 + r);
    for (int64_t i = 0; i < n; ++i) {
      float& v = row[size_t(i)];
      v *= scale;
      if (r % 4 == 1 && rng.next() % 4 != 0) v = 0.0f;     // sparse
      if (r % 4 == 2) v = float(int(v * 2.0f)) * 0.5f;     // few distinct values
      if (r % 4 == 3 && (i / 16) % 5 == 2) v = 0.0f;       // all-zero 16-value sub-blocks
    }
    rows.push_back(std::move(row));
  }
  std::vector<float> x;
  for (const auto& row : rows) x.insert(x.end(), row.begin(), row.end());
  const int64_t nrows = int64_t(rows.size());
  for (WType t : kGridQuantizerTypes) {
    ASSERT_FALSE(ggml().requires_imatrix(int(t))) << wtype_info(t).name;
    const size_t row_bytes = wtype_row_bytes(t, n);
    std::vector<uint8_t> a(row_bytes * size_t(nrows)), b(a.size());
    for (int64_t r = 0; r < nrows; ++r) quantize_row(t, x.data() + r * n, a.data() + size_t(r) * row_bytes, n);
    ASSERT_EQ(ggml().quantize(int(t), x.data(), b.data(), nrows, n), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_EQ(a[i], b[i]) << wtype_info(t).name << " row " << i / row_bytes << " byte " << i % row_bytes;
  }
}

// Non-finite input (ggml aborts on some): a block of some bytes, no crash, no read out of bounds.
TEST(QuantFormats, GridQuantizersTakeNonFiniteInput) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[size_t(i)] = float(i % 7) - 3.0f;
  x[3] = std::nanf("");
  x[40] = INFINITY;
  x[77] = -INFINITY;
  x[130] = 3e38f;
  for (WType t : kGridQuantizerTypes) {
    std::vector<uint8_t> q(wtype_row_bytes(t, 256));
    quantize_row(t, x.data(), q.data(), 256);
    std::vector<float> back(256);
    dequantize_blocks(t, q.data(), back.data(), 256);
  }
}

// IQ2_XXS, IQ2_XS and IQ1_S need an importance matrix in ggml (ggml_quantize_requires_imatrix), which is
// not supported here. Asking for one is an error naming the type, never other bytes.
TEST(QuantFormats, QuantizersThatNeedAnImatrixAreRefused) {
  std::vector<float> x(256, 0.5f);
  std::vector<uint8_t> q(512);
  ASSERT_TRUE(ggml().ok()) << ggml().error();
  for (WType t : {WType::IQ2_XXS, WType::IQ2_XS, WType::IQ1_S}) {
    EXPECT_TRUE(ggml().requires_imatrix(int(t))) << wtype_info(t).name;
    try {
      quantize_row(t, x.data(), q.data(), 256);
      ADD_FAILURE() << wtype_info(t).name << " quantized";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(wtype_info(t).name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("importance matrix"), std::string::npos) << e.what();
    }
  }
}

// The core type table and src/quant agree: every computable type has a WType whose row size is the
// table's, and dequantizes.
TEST(QuantFormats, CoreTypeTableMatchesQuant) {
  int computable = 0;
  for (uint32_t id = 0; id < 64; ++id) {
    const GgmlTypeInfo* info = ggml_type_info(id);
    if (!info || !info->computable) {
      EXPECT_FALSE(wtype_supported(id)) << id;
      continue;
    }
    ++computable;
    ASSERT_TRUE(wtype_supported(id)) << info->name;
    const WType t = WType(id);
    EXPECT_EQ(wtype_row_bytes_unchecked(t, 512), size_t(512 / info->block_elems * info->block_bytes)) << info->name;
    std::vector<uint8_t> zeros(size_t(info->block_bytes) * 2, 0);
    std::vector<float> out(size_t(info->block_elems) * 2, 1.0f);
    EXPECT_NO_THROW(dequantize_blocks(t, zeros.data(), out.data(), info->block_elems * 2)) << info->name;
  }
  EXPECT_EQ(computable, 23);
}

TEST(QuantFormats, QuantizeMatchesRecordedGgmlOutput) {
  // FNV-1a of ggml's quantize_row_*_ref output for make_input(256 * 9, 1234), recorded from llama.cpp.
  const std::pair<WType, uint64_t> expected[] = {
      {WType::Q8_0, 0x66f7334c0ba2850eull}, {WType::Q4_0, 0x3dedde91c6f3d4d1ull}, {WType::Q4_K, 0x76f9f6f5a5b05cd9ull},
      {WType::Q5_K, 0xe20822af2878d270ull}, {WType::Q6_K, 0xef58af0506e0f688ull},
      // ggml_quantize_chunk(type, x, q, 0, 1, n, NULL) of libggml-base (node-llama-cpp 3.21.1).
      {WType::IQ3_XXS, 0x7406f9f7ac6f56afull}, {WType::IQ3_S, 0x4a23bc95abb14603ull},
      {WType::IQ2_S, 0x41ef07f10dca220aull}, {WType::IQ1_M, 0x2a048e64be33f6daull}};
  for (auto [t, h] : expected) {
    const int64_t n = 256 * 9;
    auto x = make_input(n, 1234);
    std::vector<uint8_t> q(wtype_row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    if (std::getenv("G4_PRINT_HASHES")) std::printf("%s 0x%016llxull\n", wtype_info(t).name, (unsigned long long)fnv1a(q));
    EXPECT_EQ(fnv1a(q), h) << wtype_info(t).name;
  }
}

TEST(QuantFormats, RoundTripErrorBounds) {
  for (WType t : kQuantTypes) {
    const WTypeInfo& info = wtype_info(t);
    const int64_t n = 256 * 12;
    auto x = make_input(n, 99);
    std::vector<uint8_t> q(wtype_row_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_blocks(t, q.data(), y.data(), n);
    // Error per element relative to the value range of its group (32 values; 256 for the K-quants,
    // whose 6-bit sub-block scales and mins are relative to the super-block).
    const int group = (t == WType::Q8_0 || t == WType::Q4_0) ? 32 : 256;
    const float bound = t == WType::Q8_0 ? 0.5f / 127 : t == WType::Q4_0 ? 0.5f / 8 : t == WType::Q6_K ? 1.0f / 32 + 1.0f / 64
                        : t == WType::Q5_K ? 1.0f / 31 + 1.0f / 63 : 1.0f / 15 + 1.0f / 63;
    for (int64_t b = 0; b < n / group; ++b) {
      float mn = 0, mx = 0;
      for (int j = 0; j < group; ++j) {
        const float v = x[size_t(b * group + j)];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      const float range = std::max(std::max(mx, -mn), mx - mn);
      for (int j = 0; j < group; ++j) {
        const size_t i = size_t(b * group + j);
        ASSERT_LE(std::fabs(y[i] - x[i]), (bound * 1.01f + 1.0f / 1024) * range + 1e-5f)
            << info.name << " element " << i << " x=" << x[i] << " y=" << y[i];
      }
    }
  }
  std::vector<float> x = make_input(96, 5), y(96);
  for (WType t : {WType::F32, WType::F16, WType::BF16}) {
    std::vector<uint8_t> q(wtype_row_bytes(t, 96));
    quantize_row(t, x.data(), q.data(), 96);
    dequantize_blocks(t, q.data(), y.data(), 96);
    for (size_t i = 0; i < 96; ++i)
      EXPECT_NEAR(y[i], x[i], std::fabs(x[i]) * (t == WType::F32 ? 0 : t == WType::F16 ? 1e-3 : 4e-3) + 1e-6);
  }
}

TEST(QuantFormats, PartialBlocksThrow) {
  std::vector<float> x(48);
  std::vector<uint8_t> q(64);
  EXPECT_THROW(quantize_row(WType::Q4_0, x.data(), q.data(), 48), Error);
  EXPECT_THROW(dequantize_blocks(WType::Q6_K, q.data(), x.data(), 48), Error);
}

TEST(QuantFormats, DequantizeRowOfWeight) {
  const int64_t rows = 3, cols = 512;
  auto x = make_input(rows * cols, 8);
  std::vector<uint8_t> q(wtype_row_bytes(WType::Q5_K, cols) * rows);
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(WType::Q5_K, x.data() + r * cols, q.data() + r * wtype_row_bytes(WType::Q5_K, cols), cols);
  Weight w{q.data(), WType::Q5_K, rows, cols};
  std::vector<float> a(cols), b(cols);
  dequantize_row(w, 2, a.data());
  dequantize_blocks(WType::Q5_K, w.row_ptr(2), b.data(), cols);
  EXPECT_EQ(a, b);
}

namespace g4 {
namespace {

// The kernels' inline row size repeats the block table as constants; both must agree for every type.
TEST(QuantFormats, UncheckedRowBytesAgreeWithTheTable) {
  std::vector<WType> types = {WType::F32, WType::F16, WType::BF16};
  for (WType t : kAllBlockTypes) types.push_back(t);
  for (WType t : types)
    for (int64_t cols : {256, 1536, 12288})
      EXPECT_EQ(wtype_row_bytes_unchecked(t, cols), wtype_row_bytes(t, cols)) << wtype_info(t).name << " " << cols;
}

}  // namespace
}  // namespace g4

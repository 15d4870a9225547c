// Grouped attention kernels (several query heads against rows of one KV head) against a double-precision
// reference on the decoded rows, for the dispatched path (AVX-512 where the CPU has it) and the portable
// one, with head counts that exercise every register-blocking width and row lengths with tails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/attention_kernels.h"
#include "quant/kernels.h"
#include "quant/weight.h"

namespace g4 {
namespace {

struct Rows {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<std::vector<float>> decoded;
  std::vector<const uint8_t*> ptrs;
};

Rows make_rows(WType t, int64_t n, int64_t d, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.5f);
  Rows r;
  for (int64_t j = 0; j < n; ++j) {
    std::vector<float> x(static_cast<size_t>(d));
    for (float& v : x) v = dist(rng);
    std::vector<uint8_t> b(wtype_row_bytes(t, d));
    if (t == WType::F32) std::memcpy(b.data(), x.data(), b.size());
    else quantize_row(t, x.data(), b.data(), d);
    std::vector<float> dec(static_cast<size_t>(d));
    if (t == WType::F32) dec = x;
    else dequantize_blocks(t, b.data(), dec.data(), d);
    r.bytes.push_back(std::move(b));
    r.decoded.push_back(std::move(dec));
  }
  for (auto& b : r.bytes) r.ptrs.push_back(b.data());
  return r;
}

std::vector<float> randoms(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void check_case(WType t, int nh, int64_t d, int64_t n, bool portable_path) {
  std::mt19937 rng(uint32_t(nh * 1000 + d * 10 + n));
  Rows rows = make_rows(t, n, d, rng);
  const std::vector<float> q = randoms(size_t(nh * d), rng);
  const std::vector<float> p = randoms(size_t(nh * n), rng);
  std::vector<float> scores(size_t(nh * n), -7.0f), out(size_t(nh * d), -7.0f);
  if (portable_path) {
    kernels::portable::attn_scores(t, q.data(), nh, d, rows.ptrs.data(), n, scores.data());
    kernels::portable::attn_values(t, p.data(), nh, d, rows.ptrs.data(), n, out.data());
  } else {
    kernels::attn_scores(t, q.data(), nh, d, rows.ptrs.data(), n, scores.data());
    kernels::attn_values(t, p.data(), nh, d, rows.ptrs.data(), n, out.data());
  }
  const std::string where = std::string(wtype_info(t).name) + (portable_path ? " portable" : " dispatched") +
                            " nh=" + std::to_string(nh) + " d=" + std::to_string(d) + " n=" + std::to_string(n);
  for (int h = 0; h < nh; ++h) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0, mag = 0;
      for (int64_t c = 0; c < d; ++c) {
        ref += double(q[size_t(h * d + c)]) * rows.decoded[size_t(j)][size_t(c)];
        mag += std::fabs(double(q[size_t(h * d + c)]) * rows.decoded[size_t(j)][size_t(c)]);
      }
      ASSERT_NEAR(scores[size_t(h * n + j)], ref, 1e-5 * mag + 1e-6) << where << " score h=" << h << " j=" << j;
    }
    for (int64_t c = 0; c < d; ++c) {
      double ref = 0, mag = 0;
      for (int64_t j = 0; j < n; ++j) {
        ref += double(p[size_t(h * n + j)]) * rows.decoded[size_t(j)][size_t(c)];
        mag += std::fabs(double(p[size_t(h * n + j)]) * rows.decoded[size_t(j)][size_t(c)]);
      }
      ASSERT_NEAR(out[size_t(h * d + c)], ref, 1e-5 * mag + 1e-6) << where << " value h=" << h << " c=" << c;
    }
  }
}

TEST(AttentionKernels, GroupedHeadsMatchReference) {
  for (WType t : {WType::F32, WType::F16, WType::BF16, WType::Q8_0, WType::Q4_0})
    for (bool portable_path : {false, true})
      for (int nh : {1, 2, 3, 4, 7, 8, 13})
        for (int64_t d : {16, 40, 48, 64, 256})
          for (int64_t n : {1, 7, 33}) {
            if ((t == WType::Q8_0 || t == WType::Q4_0) && d % 32 != 0) continue;  // whole 32-value blocks
            check_case(t, nh, d, n, portable_path);
          }
}

TEST(AttentionKernels, UnsupportedRowTypeIsAClearError) {
  std::vector<uint8_t> row(144);
  const uint8_t* rows[1] = {row.data()};
  float q[256] = {}, s[1];
  try {
    kernels::attn_scores(WType::Q4_K, q, 1, 256, rows, 1, s);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace g4

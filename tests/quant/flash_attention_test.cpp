// Tiled and split-key attention against the one-query-at-a-time definition computed in double precision
// (attention_reference), over every cached row type for keys and values separately, head dims with and
// without tails, grouped heads, causal / sliding / bidirectional-block visibility, scaling and soft-capping,
// and every path: the row path with keys split into pieces and merged, the exact tiles (AVX-512 and
// portable), and the bf16 AMX tiles where the CPU has them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "quant/flash_attention.h"
#include "quant/weight.h"

namespace g4 {
namespace {

using kernels::AttnMath;
using kernels::AttnPath;
using kernels::AttnProblem;
using kernels::AttnShape;

// Rows of one KV head, stored contiguously as the KV cache stores them.
struct Cache {
  std::vector<uint8_t> k, v;
  size_t k_stride = 0, v_stride = 0;
  kernels::AttnRows krows() const { return {k.data(), k_stride, 0}; }
  kernels::AttnRows vrows() const { return {v.data(), v_stride, 0}; }
};

std::vector<uint8_t> encode(WType t, const std::vector<float>& x) {
  std::vector<uint8_t> b(wtype_row_bytes(t, int64_t(x.size())));
  if (t == WType::F32) std::memcpy(b.data(), x.data(), b.size());
  else quantize_row(t, x.data(), b.data(), int64_t(x.size()));
  return b;
}

Cache make_cache(const AttnShape& sh, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Cache c;
  c.k_stride = wtype_row_bytes(sh.k_type, sh.d);
  c.v_stride = wtype_row_bytes(sh.v_type, sh.d);
  for (int64_t j = 0; j < n; ++j) {
    std::vector<float> k(static_cast<size_t>(sh.d)), v(static_cast<size_t>(sh.d));
    for (float& x : k) x = dist(rng);
    for (float& x : v) x = dist(rng);
    const std::vector<uint8_t> kb = encode(sh.k_type, k), vb = encode(sh.v_type, v);
    c.k.insert(c.k.end(), kb.begin(), kb.end());
    c.v.insert(c.v.end(), vb.begin(), vb.end());
  }
  return c;
}

// Visibility of one sequence's new tokens at positions pos0 .. pos0 + n_q - 1: causal, with a sliding
// window when window > 0, and with a bidirectional block [b0, b1) whose tokens see to its end.
struct Vis {
  std::vector<int64_t> lo, hi;
};
Vis visibility(int64_t pos0, int n_q, int64_t window, int64_t b0 = -1, int64_t b1 = -1) {
  Vis v;
  for (int t = 0; t < n_q; ++t) {
    const int64_t pos = pos0 + t;
    v.lo.push_back(window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0);
    v.hi.push_back(pos >= b0 && pos < b1 ? std::max(pos, b1 - 1) : pos);
  }
  return v;
}

struct Case {
  int64_t d;
  int nh;
  WType kt, vt;
  int64_t pos0;
  int n_q;
  int64_t window = 0;
  int64_t b0 = -1, b1 = -1;
  float scale = 1.0f, softcap = 0.0f;
  int64_t ring = 0;  // > 0: the rows sit in a ring buffer of this many positions, as sliding layers keep them
};

// The last `ring` positions of a contiguous cache, moved to the slots a ring buffer would keep them in.
Cache as_ring(const Cache& c, int64_t n, int64_t ring) {
  Cache r = c;
  for (int64_t pos = std::max<int64_t>(0, n - ring); pos < n; ++pos) {
    std::memcpy(r.k.data() + size_t(pos % ring) * c.k_stride, c.k.data() + size_t(pos) * c.k_stride, c.k_stride);
    std::memcpy(r.v.data() + size_t(pos % ring) * c.v_stride, c.v.data() + size_t(pos) * c.v_stride, c.v_stride);
  }
  // Slots past the ring hold garbage the kernels must never read.
  std::fill(r.k.begin() + std::min<int64_t>(n, ring) * int64_t(c.k_stride), r.k.end(), uint8_t(0xff));
  std::fill(r.v.begin() + std::min<int64_t>(n, ring) * int64_t(c.v_stride), r.v.end(), uint8_t(0xff));
  return r;
}

std::string describe(const Case& c) {
  return "d=" + std::to_string(c.d) + " nh=" + std::to_string(c.nh) + " k=" + wtype_info(c.kt).name +
         " v=" + wtype_info(c.vt).name + " pos0=" + std::to_string(c.pos0) + " n_q=" + std::to_string(c.n_q) +
         " window=" + std::to_string(c.window) + " block=[" + std::to_string(c.b0) + "," + std::to_string(c.b1) + ")";
}

// Runs the case through attention() and the reference; returns max |got - want| / max |want|.
double run_case(const Case& c, AttnMath math, ThreadPool& pool) {
  std::mt19937 rng(uint32_t(c.d * 7919 + c.nh * 131 + c.pos0 * 17 + c.n_q));
  AttnShape sh;
  sh.d = c.d;
  sh.nh = c.nh;
  sh.k_type = c.kt;
  sh.v_type = c.vt;
  sh.scale = c.scale;
  sh.softcap = c.softcap;
  const Vis vis = visibility(c.pos0, c.n_q, c.window, c.b0, c.b1);
  const int64_t n_kv = *std::max_element(vis.hi.begin(), vis.hi.end()) + 1;
  Cache cache = make_cache(sh, n_kv, rng);
  if (c.ring > 0) {
    cache = as_ring(cache, n_kv, c.ring);
    EXPECT_GE(c.ring, n_kv - *std::min_element(vis.lo.begin(), vis.lo.end())) << "test case: ring too short";
  }
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t stride = c.nh * c.d + 3;  // rows of q/out with a gap, as a batch of several heads would have
  std::vector<float> q(size_t(c.n_q * stride));
  for (float& x : q) x = dist(rng);
  std::vector<float> got(q.size(), 1e9f), want(q.size(), 1e9f);
  AttnProblem p;
  p.n_q = c.n_q;
  p.q = q.data();
  p.q_stride = stride;
  p.out_stride = stride;
  p.lo = vis.lo.data();
  p.hi = vis.hi.data();
  p.k = cache.krows();
  p.v = cache.vrows();
  p.k.ring = p.v.ring = c.ring;
  p.out = want.data();
  kernels::attention_reference(sh, p);
  p.out = got.data();
  kernels::attention(sh, {p}, math, pool);
  double err = 0, ref = 0;
  for (int t = 0; t < c.n_q; ++t)
    for (int64_t i = 0; i < c.nh * c.d; ++i) {
      const size_t k = size_t(t * stride + i);
      err = std::max(err, double(std::fabs(got[k] - want[k])));
      ref = std::max(ref, double(std::fabs(want[k])));
    }
  for (int t = 0; t < c.n_q; ++t)  // the gap after each row is not written
    for (int64_t i = c.nh * c.d; i < stride; ++i) EXPECT_EQ(got[size_t(t * stride + i)], 1e9f);
  return err / ref;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const WType types[] = {WType::F32, WType::F16, WType::BF16, WType::Q8_0, WType::Q4_0};
  int i = 0;
  for (int64_t d : {16, 24, 32, 48, 64, 256, 512})
    for (WType kt : types)
      for (WType vt : types) {
        const bool block_type = kt == WType::Q8_0 || kt == WType::Q4_0 || vt == WType::Q8_0 || vt == WType::Q4_0;
        if (block_type && d % 32 != 0) continue;
        ++i;
        if (d >= 256 && i % 3 != 0) continue;  // keep the big head dims to a sample of the type pairs
        const int nh = 1 + i % 8;
        out.push_back({d, nh, kt, vt, int64_t(i % 5) * 37, 1 + (i * 13) % 150, (i % 3 == 0) ? int64_t(8 + i % 40) : 0});
      }
  // Long ranges, a window shorter than a tile and one longer, a bidirectional block, scale and softcap.
  out.push_back({64, 8, WType::F16, WType::F16, 1000, 200, 512});
  out.push_back({64, 4, WType::F16, WType::F16, 300, 70, 5});
  out.push_back({32, 2, WType::F32, WType::F32, 10, 90, 0, 40, 70});
  out.push_back({32, 2, WType::F16, WType::Q8_0, 10, 90, 24, 30, 95});
  Case ring{64, 8, WType::F16, WType::Q8_0, 700, 50, 100};  // ring of window - 1 + new tokens + spare
  ring.ring = 100 - 1 + 50 + 7;
  out.push_back(ring);
  Case sc{48, 3, WType::BF16, WType::F16, 50, 40, 0};
  sc.scale = 0.125f;
  sc.softcap = 2.0f;
  out.push_back(sc);
  return out;
}

class FlashAttention : public ::testing::Test {
 protected:
  void TearDown() override { kernels::attention_force_path(AttnPath::Auto); }
  ThreadPool pool{3};
};

TEST_F(FlashAttention, ExactPathsMatchTheDefinition) {
  struct Mode {
    AttnPath path;
    int64_t chunk;
    bool portable;
    const char* name;
  };
  const Mode modes[] = {{AttnPath::Auto, 0, false, "auto"},
                        {AttnPath::Rows, 0, false, "rows"},
                        {AttnPath::Rows, 7, false, "rows split in 7-key pieces"},
                        {AttnPath::Tiles, 0, false, "tiles"},
                        {AttnPath::Tiles, 0, true, "portable tiles"}};
  for (const Mode& m : modes) {
    kernels::attention_force_path(m.path, m.chunk, m.portable);
    for (const Case& c : cases()) {
      const double e = run_case(c, AttnMath::Exact, pool);
      EXPECT_LE(e, 2e-5) << m.name << ": " << describe(c);
    }
  }
}

TEST_F(FlashAttention, FastPathStaysWithinBf16Rounding) {
  const CpuFeatures& f = cpu_features();
  // Where the CPU has AMX-BF16 the fast path must actually run on it (not fall back silently).
  if (f.amx_bf16 && f.amx_tile && f.avx512bf16) {
    EXPECT_TRUE(kernels::attention_fast_available());
  }
  double worst = 0;
  for (AttnPath path : {AttnPath::Auto, AttnPath::Tiles}) {
    kernels::attention_force_path(path);
    for (const Case& c : cases()) {
      const double e = run_case(c, AttnMath::Fast, pool);
      // Every product is split into three bf16 products (~16 significant bits); measured worst 1.4e-4.
      EXPECT_LE(e, 1e-3) << describe(c);
      worst = std::max(worst, e);
    }
  }
  std::printf("worst relative error of the fast path: %.3g\n", worst);
}

TEST_F(FlashAttention, ManyProblemsInOneCall) {
  // Several sequences (different lengths and depths) and KV heads in one call share the threads; each
  // must get exactly its own answer.
  AttnShape sh;
  sh.d = 32;
  sh.nh = 4;
  sh.k_type = WType::F16;
  sh.v_type = WType::F16;
  std::mt19937 rng(7);
  std::vector<Cache> caches;
  std::vector<Vis> vis;
  std::vector<std::vector<float>> qs, got, want;
  const int n_q[] = {1, 1, 40, 3, 1, 129};
  const int64_t pos0[] = {0, 700, 5, 90, 3000, 64};
  for (int i = 0; i < 6; ++i) {
    vis.push_back(visibility(pos0[i], n_q[i], i % 2 ? 16 : 0));
    caches.push_back(make_cache(sh, pos0[i] + n_q[i], rng));
    std::vector<float> q(size_t(n_q[i] * sh.nh * sh.d));
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float& x : q) x = dist(rng);
    qs.push_back(q);
    got.emplace_back(q.size(), 0.0f);
    want.emplace_back(q.size(), 0.0f);
  }
  std::vector<AttnProblem> probs;
  for (int i = 0; i < 6; ++i) {
    AttnProblem p;
    p.n_q = n_q[i];
    p.q = qs[size_t(i)].data();
    p.q_stride = p.out_stride = sh.nh * sh.d;
    p.lo = vis[size_t(i)].lo.data();
    p.hi = vis[size_t(i)].hi.data();
    p.k = caches[size_t(i)].krows();
    p.v = caches[size_t(i)].vrows();
    p.out = want[size_t(i)].data();
    kernels::attention_reference(sh, p);
    p.out = got[size_t(i)].data();
    probs.push_back(p);
  }
  kernels::attention(sh, probs, AttnMath::Exact, pool);
  for (int i = 0; i < 6; ++i)
    for (size_t k = 0; k < got[size_t(i)].size(); ++k)
      ASSERT_NEAR(got[size_t(i)][k], want[size_t(i)][k], 2e-5) << "problem " << i << " value " << k;
}

}  // namespace
}  // namespace g4

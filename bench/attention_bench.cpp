// attention_bench: the attention kernels alone, on a random KV cache of a real model's layer shape.
//
//   build/attention_bench [--d 512] [--heads 8] [--kv-heads 1] [--depth 8192] [--tokens 1|512]
//                         [--type f16] [--math fast|exact] [--window 0] [--threads 2] [--reps 20]
//
// --tokens 1 times one decoding step at --depth (all query heads against depth keys: bytes of K and V read
// per second are reported against the machine's bandwidth); --tokens N times a prompt chunk of N tokens
// after depth cached ones (tiled path: multiply-adds per second). Not a test: it prints figures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "quant/flash_attention.h"
#include "quant/weight.h"

namespace {

struct Opts {
  int64_t d = 512, depth = 8192, window = 0;
  int heads = 8, kv_heads = 1, tokens = 1, threads = 2, reps = 20;
  std::string type = "f16", math = "fast";
};

g4::WType type_of(const std::string& s) {
  if (s == "f32") return g4::WType::F32;
  if (s == "f16") return g4::WType::F16;
  if (s == "bf16") return g4::WType::BF16;
  if (s == "q8_0") return g4::WType::Q8_0;
  if (s == "q4_0") return g4::WType::Q4_0;
  std::fprintf(stderr, "unknown --type %s\n", s.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--d") o.d = std::atoll(v.c_str());
    else if (k == "--heads") o.heads = std::atoi(v.c_str());
    else if (k == "--kv-heads") o.kv_heads = std::atoi(v.c_str());
    else if (k == "--depth") o.depth = std::atoll(v.c_str());
    else if (k == "--tokens") o.tokens = std::atoi(v.c_str());
    else if (k == "--window") o.window = std::atoll(v.c_str());
    else if (k == "--threads") o.threads = std::atoi(v.c_str());
    else if (k == "--reps") o.reps = std::atoi(v.c_str());
    else if (k == "--type") o.type = v;
    else if (k == "--math") o.math = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const g4::WType t = type_of(o.type);
  const int64_t n_kv = o.depth + o.tokens;
  const size_t row = g4::wtype_row_bytes(t, o.d * o.kv_heads), head = g4::wtype_row_bytes(t, o.d);
  std::vector<uint8_t> k(size_t(n_kv) * row), v(size_t(n_kv) * row);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(size_t(o.d * o.kv_heads));
  for (int64_t p = 0; p < n_kv; ++p) {
    for (float& f : x) f = dist(rng);
    g4::quantize_row(t, x.data(), k.data() + size_t(p) * row, int64_t(x.size()));
    for (float& f : x) f = dist(rng);
    g4::quantize_row(t, x.data(), v.data() + size_t(p) * row, int64_t(x.size()));
  }
  const int group = o.heads / o.kv_heads;
  const int64_t qdim = int64_t(o.heads) * o.d;
  std::vector<float> q(size_t(o.tokens * qdim)), out(q.size());
  for (float& f : q) f = dist(rng) * 0.05f;
  std::vector<int64_t> lo(size_t(o.tokens)), hi(size_t(o.tokens));
  for (int t0 = 0; t0 < o.tokens; ++t0) {
    hi[size_t(t0)] = o.depth + t0;
    lo[size_t(t0)] = o.window > 0 ? std::max<int64_t>(0, hi[size_t(t0)] - o.window + 1) : 0;
  }
  g4::kernels::AttnShape sh;
  sh.d = o.d;
  sh.nh = group;
  sh.k_type = sh.v_type = t;
  std::vector<g4::kernels::AttnProblem> probs;
  for (int g = 0; g < o.kv_heads; ++g) {
    g4::kernels::AttnProblem p;
    p.n_q = o.tokens;
    p.q = q.data() + g * group * o.d;
    p.out = out.data() + g * group * o.d;
    p.q_stride = p.out_stride = qdim;
    p.lo = lo.data();
    p.hi = hi.data();
    p.k = {k.data() + size_t(g) * head, row, 0};
    p.v = {v.data() + size_t(g) * head, row, 0};
    probs.push_back(p);
  }
  g4::ThreadPool pool(o.threads);
  const auto math = o.math == "exact" ? g4::kernels::AttnMath::Exact : g4::kernels::AttnMath::Fast;
  g4::kernels::attention(sh, probs, math, pool);  // warm-up
  std::vector<double> times;
  for (int r = 0; r < o.reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    g4::kernels::attention(sh, probs, math, pool);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double s = times[times.size() / 2];
  double pairs = 0;  // (query token, key) pairs visited per KV head
  for (int t0 = 0; t0 < o.tokens; ++t0) pairs += double(hi[size_t(t0)] - lo[size_t(t0)] + 1);
  const double macs = pairs * o.heads * o.d * 2;
  const double kv_bytes = double(o.tokens == 1 ? pairs : double(n_kv)) * 2 * double(row);
  std::printf("d %lld, %d heads / %d KV heads, %s %s, depth %lld, %d tokens, %d threads: %.3f ms (median of %d)\n",
              (long long)o.d, o.heads, o.kv_heads, o.type.c_str(), o.math.c_str(), (long long)o.depth, o.tokens,
              o.threads, s * 1e3, o.reps);
  std::printf("  %.1f GMAC/s, K+V %.1f GB/s\n", macs / s / 1e9, kv_bytes / s / 1e9);
  return 0;
}

// Matrix kernels: decode (matrix-vector, bytes-bound) in GB/s against the measured read bandwidth, and
// prefill (512 tokens, compute-bound) in GFLOP/s, per weight type, at E2B-like shapes.
//
//   matmul_bench [--threads N] [--isa scalar|avx2|avx512-vnni|amx] [--quick] [--cpu-time] [--only TYPE]
//                [--decode-only | --prefill-only]
//
// Decode cycles through copies of the matrix totalling >= 512 MiB, so every call streams from DRAM as in
// a real decode step (about 300 different matrices per token).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/weight.h"

using namespace g4;

namespace {

bool g_cpu_time = false;
std::string g_only;  // --only TYPE  // --cpu-time: this thread's CPU time (meaningful with --threads 1 on a busy machine)

double now() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint64_t g_rng = 88172645463325252ull;
uint64_t rnd() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}

// Random block data with small finite scales (quantizing hundreds of MB with the reference quantizer
// would take minutes; the kernels' speed does not depend on the values).
void fill_random(WType t, uint8_t* p, size_t bytes, int64_t cols) {
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t v = rnd();
    std::memcpy(p + i, &v, 8);
  }
  const WTypeInfo& info = wtype_info(t);
  auto set = [](uint8_t* q, float f) {
    const uint16_t h = f32_to_f16(f);
    std::memcpy(q, &h, 2);
  };
  if (t == WType::F32) {
    float* f = reinterpret_cast<float*>(p);
    for (size_t i = 0; i < bytes / 4; ++i) f[i] = float(int(rnd() % 2001) - 1000) * 1e-3f;
    return;
  }
  if (t == WType::F16 || t == WType::BF16) {
    uint16_t* h = reinterpret_cast<uint16_t*>(p);
    for (size_t i = 0; i < bytes / 2; ++i) {
      const float f = float(int(rnd() % 2001) - 1000) * 1e-3f;
      h[i] = t == WType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
    }
    return;
  }
  (void)cols;
  for (size_t b = 0; b + size_t(info.block_bytes) <= bytes; b += size_t(info.block_bytes)) {
    uint8_t* q = p + b;
    if (t == WType::Q6_K) set(q + 208, 0.001f);
    else set(q, 0.01f);
    if (t == WType::Q4_K || t == WType::Q5_K) set(q + 2, 0.001f);
  }
}

// Read bandwidth of this machine with the pool's threads (sum over a 1 GiB array).
double measure_bandwidth(ThreadPool& pool) {
  const size_t n = (size_t(1) << 30) / 8;
  std::vector<uint64_t> a(n);
  pool.parallel_for(n, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) a[i] = i;
  });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<uint64_t> sums(size_t(pool.size()) * 8);
    const double t0 = now();
    pool.run([&](int ti, int nt) {
      const size_t b = n * size_t(ti) / size_t(nt), e = n * size_t(ti + 1) / size_t(nt);
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = b; i + 4 <= e; i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
      sums[size_t(ti) * 8] = s0 + s1 + s2 + s3;
    });
    const double dt = now() - t0;
    best = std::max(best, double(n * 8) / dt / 1e9);
  }
  return best;
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  bool quick = false, decode = true, prefill = true;
  std::string isa;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--isa" && i + 1 < argc) isa = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--cpu-time") g_cpu_time = true;
    else if (a == "--only" && i + 1 < argc) g_only = argv[++i];
    else if (a == "--decode-only") prefill = false;
    else if (a == "--prefill-only") decode = false;
  }
  if (!isa.empty()) {
    for (kernels::Isa k : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512, kernels::Isa::Amx})
      if (isa == kernels::isa_name(k)) kernels::force_isa(k);
  }
  ThreadPool pool(threads);
  std::printf("threads %d, kernels %s (best %s)\n", threads, kernels::isa_name(kernels::active_isa()),
              kernels::isa_name(kernels::best_isa()));
  const double bw = decode ? measure_bandwidth(pool) : 0.0;
  if (decode) std::printf("measured read bandwidth: %.1f GB/s\n\n", bw);

  const WType types[] = {WType::Q4_0, WType::Q8_0, WType::Q4_K, WType::Q5_K, WType::Q6_K,
                         WType::BF16, WType::F16,  WType::F32};
  const Shape shapes[] = {{"attn q 2048x1536", 2048, 1536},
                          {"ffn up 6144x1536", 6144, 1536},
                          {"ffn down 1536x6144", 1536, 6144},
                          {"lm_head 262144x1536", 262144, 1536}};
  std::printf("DECODE (1 token)        %-6s %9s %8s %8s %7s\n", "type", "MB", "us/call", "GB/s", "roof%");
  for (const Shape& s : shapes) {
    if (!decode) break;
    for (WType t : types) {
      if (!g_only.empty() && g_only != wtype_info(t).name) continue;
      const size_t mbytes = wtype_row_bytes(t, s.cols) * size_t(s.rows);
      if (mbytes > (size_t(900) << 20)) continue;  // F32 lm_head: too big for this machine's share of RAM
      const size_t copies = std::max<size_t>(1, ((size_t(quick ? 256 : 512) << 20) + mbytes - 1) / mbytes);
      std::vector<uint8_t> data(mbytes * copies + 64);
      fill_random(t, data.data(), data.size() - 64, s.cols);
      std::vector<float> x(size_t(s.cols)), y(size_t(s.rows));
      for (auto& v : x) v = float(int(rnd() % 2001) - 1000) * 1e-3f;
      Weight w{data.data(), t, s.rows, s.cols};
      const int reps = int(std::max<size_t>(copies * (quick ? 2 : 4), 6));
      for (size_t c = 0; c < copies; ++c) {
        w.data = data.data() + c * mbytes;
        matmul(w, x.data(), 1, y.data(), pool);
      }
      std::vector<double> times;
      for (int r = 0; r < reps; ++r) {
        w.data = data.data() + (size_t(r) % copies) * mbytes;
        const double t0 = now();
        matmul(w, x.data(), 1, y.data(), pool);
        times.push_back(now() - t0);
      }
      std::sort(times.begin(), times.end());
      const double med = times[times.size() / 2];
      const double gbs = double(mbytes) / med / 1e9;
      std::printf("%-23s %-6s %9.1f %8.1f %8.1f %6.0f%%\n", s.name, wtype_info(t).name, double(mbytes) / 1e6, med * 1e6,
                  gbs, 100.0 * gbs / bw);
    }
  }

  std::printf("\nPREFILL (512 tokens)    %-6s %9s %8s\n", "type", "ms/call", "GFLOP/s");
  const Shape pshapes[] = {{"attn q 2048x1536", 2048, 1536}, {"ffn up 6144x1536", 6144, 1536}, {"ffn down 1536x6144", 1536, 6144}};
  const size_t n = 512;
  for (const Shape& s : pshapes) {
    if (!prefill) break;
    for (WType t : types) {
      if (!g_only.empty() && g_only != wtype_info(t).name) continue;
      const size_t mbytes = wtype_row_bytes(t, s.cols) * size_t(s.rows);
      std::vector<uint8_t> data(mbytes + 64);
      fill_random(t, data.data(), mbytes, s.cols);
      std::vector<float> x(n * size_t(s.cols)), y(n * size_t(s.rows));
      for (auto& v : x) v = float(int(rnd() % 2001) - 1000) * 1e-3f;
      Weight w{data.data(), t, s.rows, s.cols};
      matmul(w, x.data(), n, y.data(), pool);
      std::vector<double> times;
      for (int r = 0; r < (quick ? 2 : 3); ++r) {
        const double t0 = now();
        matmul(w, x.data(), n, y.data(), pool);
        times.push_back(now() - t0);
      }
      std::sort(times.begin(), times.end());
      const double med = times[times.size() / 2];
      const double flops = 2.0 * double(n) * double(s.rows) * double(s.cols);
      std::printf("%-23s %-6s %9.1f %8.1f\n", s.name, wtype_info(t).name, med * 1e3, flops / med / 1e9);
    }
  }
  return 0;
}

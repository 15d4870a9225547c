// The machine's ceilings, measured in the same run as a comparison (bench/compare_llamacpp.py --measure):
// DRAM read bandwidth and the AVX-512 VNNI (vpdpbusd) int8 peak, for a given number of threads. AMX peaks
// are not measured here (no AMX machine to validate on): pass them to the script by hand.
//
//   machine_peaks_bench [--threads N]      prints one JSON line: {"read_bw": B/s, "int8_ops": op/s, "int8_isa": "..."}
// GCC 12's AVX-512 reduction intrinsics trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double run_threads(int n, F f) {  // wall seconds for f(thread) on n threads started together
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  double t0 = 0;
  for (int i = 0; i < n; ++i)
    ts.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < n) {
      }
      f(i);
    });
  t0 = now();
  for (auto& t : ts) t.join();
  return now() - t0;
}

__attribute__((target("avx512f"))) float sum_avx512(const float* p, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(p + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float sum_portable(const float* p, size_t n) {
  float s[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += p[i + k];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

volatile float g_sink;

double read_bandwidth(int threads) {
  const size_t n = (size_t(2) << 30) / sizeof(float);  // 2 GiB: far beyond any cache
  float* p = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  std::memset(p, 0, n * sizeof(float));
  const bool avx512 = g4::cpu_features().has_avx512_vnni_level();
  std::vector<double> rates;
  for (int rep = 0; rep < 7; ++rep) {
    const double dt = run_threads(threads, [&](int i) {
      const size_t b = n * size_t(i) / size_t(threads), e = n * size_t(i + 1) / size_t(threads);
      g_sink = avx512 ? sum_avx512(p + b, e - b) : sum_portable(p + b, e - b);
    });
    rates.push_back(double(n * sizeof(float)) / dt);
  }
  std::free(p);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) double vnni_ops(long iters) {
  __m512i a[12];
  __m512i x = _mm512_set1_epi8(1), y = _mm512_set1_epi8(2);
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_epi32(i);
  for (long k = 0; k < iters; ++k) {
    #pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_dpbusd_epi32(a[i], x, y);
    asm volatile("" : "+v"(x));
  }
  int s = 0;
  for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_epi32(a[i]);
  g_sink = float(s);
  return double(iters) * 12 * 64 * 2;  // 64 multiply-adds per instruction
}

double int8_peak(int threads) {
  const long iters = 100000000;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    const double dt = run_threads(threads, [&](int) { vnni_ops(iters); });
    rates.push_back(double(iters) * 12 * 64 * 2 * threads / dt);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
  const double bw = read_bandwidth(threads);
  const bool vnni = g4::cpu_features().has_avx512_vnni_level();
  const double ops = vnni ? int8_peak(threads) : 0.0;
  std::printf("{\"threads\": %d, \"read_bw\": %.4g, \"int8_ops\": %.4g, \"int8_isa\": \"%s\"}\n", threads, bw, ops,
              vnni ? "avx512-vnni" : "none");
  return 0;
}

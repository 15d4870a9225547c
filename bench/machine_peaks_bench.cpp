// The machine's ceilings, measured in the same run as a comparison (bench/compare_llamacpp.py --measure):
// DRAM read bandwidth and the int8 peaks, AVX-512 VNNI (vpdpbusd) and, where the CPU has it, AMX-INT8
// (tdpbssd on full 16x16x64 tiles), for a given number of threads.
//
//   machine_peaks_bench [--threads N]
//
// prints one JSON line: {"read_bw": B/s, "int8_ops": op/s, "int8_isa": "...", "vnni_ops": op/s,
// "amx_int8_ops": op/s, "f32_flops": flop/s, "bf16_flops": flop/s, "bf16_isa": "..."}; bf16_flops is the
// best bf16 peak (AMX-BF16 tdpbf16ps where present, else AVX-512 BF16 vdpbf16ps), the ceiling of the
// MatmulMath::Fast GEMMs (the vision tower's fast math); int8_ops is the best int8 peak of the machine (AMX where present) and int8_isa
// names it; f32_flops is the AVX-512 f32 FMA peak (2 flops per multiply-add); a peak the CPU lacks is 0.
// GCC 12's AVX-512 reduction intrinsics trip its own uninitialized-variable warnings.
// The int8 peaks are x86-64 instructions; elsewhere they read 0 and only the bandwidth is measured.
#include "core/arch.h"
#if G4_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

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

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

#if G4_X86
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
#endif

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
  [[maybe_unused]] const bool avx512 = g4::cpu_features().has_avx512_vnni_level();
  std::vector<double> rates;
  for (int rep = 0; rep < 7; ++rep) {
    const double dt = run_threads(threads, [&](int i) {
      const size_t b = n * size_t(i) / size_t(threads), e = n * size_t(i + 1) / size_t(threads);
#if G4_X86
      if (avx512) {
        g_sink = sum_avx512(p + b, e - b);
        return;
      }
#endif
      g_sink = sum_portable(p + b, e - b);
    });
    rates.push_back(double(n * sizeof(float)) / dt);
  }
  std::free(p);
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

#if G4_X86
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

// f32 FMA (vfmadd on zmm registers, 12 independent accumulators): the ceiling of f32 matrix products.
__attribute__((target("avx512f"))) double f32_fma_ops(long iters) {
  __m512 a[12];
  __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-9f);
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(float(i));
  for (long k = 0; k < iters; ++k) {
    #pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], x, y);
    asm volatile("" : "+v"(x));
  }
  float s = 0;
  for (int i = 0; i < 12; ++i) s += _mm512_reduce_add_ps(a[i]);
  g_sink = s;
  return double(iters) * 12 * 16 * 2;
}

double f32_peak(int threads) {
  const long iters = 100000000;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    const double dt = run_threads(threads, [&](int) { f32_fma_ops(iters); });
    rates.push_back(double(iters) * 12 * 16 * 2 * threads / dt);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

struct alignas(64) TileConfig {
  uint8_t palette_id = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// tdpbssd on 16x16x64 tiles: 4 independent accumulators (tmm0-3) fed by two A and two B tiles.
__attribute__((target("amx-tile,amx-int8"))) double amx_ops(long iters) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
  alignas(64) static thread_local int8_t buf[1024];
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long k = 0; k < iters; ++k) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
  alignas(64) static thread_local int32_t out[256];
  _tile_stored(0, out, 64);
  _tile_release();
  g_sink = float(out[0]);
  return double(iters) * 4 * 16 * 16 * 64 * 2;
}

double amx_peak(int threads) {
  const long iters = 2000000;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    const double dt = run_threads(threads, [&](int) { amx_ops(iters); });
    rates.push_back(double(iters) * 4 * 16 * 16 * 64 * 2 * threads / dt);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}
// tdpbf16ps on 16x16x32 bf16 tiles, as amx_ops (2 flops per multiply-add).
__attribute__((target("amx-tile,amx-bf16"))) double amx_bf16_ops(long iters) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) cfg.rows[t] = 16, cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);
  alignas(64) static thread_local uint16_t buf[512];
  for (auto& v : buf) v = 0x3c00;  // small bf16 values: no overflow to inf
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long k = 0; k < iters; ++k) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) static thread_local float out[256];
  _tile_stored(0, out, 64);
  _tile_release();
  g_sink = out[0];
  return double(iters) * 4 * 16 * 16 * 32 * 2;
}

// vdpbf16ps: 12 independent accumulators of 16 f32, each instruction 32 bf16 products.
__attribute__((target("avx512f,avx512bf16"))) double avx512_bf16_ops(long iters) {
  __m512 a[12];
  for (auto& v : a) v = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi16(0x3c00);
  for (long k = 0; k < iters; ++k) {
    for (auto& v : a) v = _mm512_dpbf16_ps(v, x, x);
    asm volatile("" : "+v"(x));
  }
  float s = 0;
  for (auto& v : a) s += _mm512_reduce_add_ps(v);
  g_sink = s;
  return double(iters) * 12 * 32 * 2;
}

double bf16_peak(int threads, bool amx) {
  const long iters = amx ? 2000000 : 50000000;
  const double per = amx ? 4.0 * 16 * 16 * 32 * 2 : 12.0 * 32 * 2;
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    const double dt = run_threads(threads, [&](int) { amx ? amx_bf16_ops(iters) : avx512_bf16_ops(iters); });
    rates.push_back(double(iters) * per * threads / dt);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}
#else
double int8_peak(int) { return 0.0; }
double amx_peak(int) { return 0.0; }
double bf16_peak(int, bool) { return 0.0; }
double f32_peak(int) { return 0.0; }
#endif

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
  const double bw = read_bandwidth(threads);
  const g4::CpuFeatures& f = g4::cpu_features();
  const bool vnni = f.has_avx512_vnni_level();
  const double vnni_ops = vnni ? int8_peak(threads) : 0.0;
  const double amx = f.amx_tile && f.amx_int8 && g4::amx_enable() ? amx_peak(threads) : 0.0;
  const bool amx_best = amx > vnni_ops;
  const double f32 = f.has_avx512_vnni_level() ? f32_peak(threads) : 0.0;
  const bool amx_bf16 = f.amx_tile && f.amx_bf16 && g4::amx_enable();
  const bool avx_bf16 = f.has_avx512_vnni_level() && f.avx512bf16;
  const double bf16 = amx_bf16 || avx_bf16 ? bf16_peak(threads, amx_bf16) : 0.0;
  std::printf(
      "{\"threads\": %d, \"read_bw\": %.4g, \"int8_ops\": %.4g, \"int8_isa\": \"%s\", \"vnni_ops\": %.4g, "
      "\"amx_int8_ops\": %.4g, \"f32_flops\": %.4g, \"bf16_flops\": %.4g, \"bf16_isa\": \"%s\"}\n",
      threads, bw, amx_best ? amx : vnni_ops, amx_best ? "amx-int8" : vnni ? "avx512-vnni" : "none", vnni_ops, amx, f32, bf16,
      amx_bf16 ? "amx-bf16" : avx_bf16 ? "avx512-bf16" : "none");
  return 0;
}

// Matrix kernels: decode (matrix-vector, bytes-bound) in GB/s against the measured read bandwidth, and
// prefill (512 tokens, compute-bound) in GFLOP/s, per weight type, at E2B-like shapes.
//
//   matmul_bench [--threads N] [--isa scalar|avx2|avx512-vnni|amx|neon|neon-dot] [--quick] [--cpu-time] [--only TYPE]
//                [--decode-only | --prefill-only] [--batch 1,2,4,8,16] [--tokens 512] [--shape TEXT]
//
// Decode cycles through copies of the matrix totalling >= 512 MiB, so every call streams from DRAM as in
// a real decode step (about 300 different matrices per token). --batch times the same calls with several
// tokens at once (sequences decoding together): bytes-bound, so ideally as fast as one token. Weights
// live in 2 MiB pages where the kernel allows, as the model loads them.
//
// Prefill also times BF16 weights with MatmulMath::Fast (row "BF16 fast": activations rounded to bf16,
// the AMX-BF16 or AVX-512 BF16 GEMM); the last column names the path each row took.
//
// G4_NO_AMX=1 / G4_NO_INT8=1 in the environment select the fallback kernels for A/B runs.
// GCC 12's AVX-512 reduction intrinsics trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "core/arch.h"
#if G4_X86
#include <immintrin.h>
#endif

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/kernels.h"
#include "quant/weight.h"

using namespace g4;

namespace {

bool g_cpu_time = false;
std::string g_only;   // --only TYPE
std::string g_shape;  // --shape TEXT: only the shapes whose name contains TEXT  // --cpu-time: this thread's CPU time (meaningful with --threads 1 on a busy machine)

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
    else if (t == WType::Q3_K) set(q + 108, 0.001f);
    else if (t == WType::Q2_K) set(q + 80, 0.001f), set(q + 82, 0.001f);
    else if (t == WType::MXFP4) q[0] = 120;
    else set(q, 0.01f);
    if (t == WType::Q4_K || t == WType::Q5_K || t == WType::Q4_1 || t == WType::Q5_1) set(q + 2, 0.001f);
  }
}

// Anonymous memory in transparent huge pages where the kernel allows (as the model's --load auto does).
struct HugeBuf {
  uint8_t* p = nullptr;
  size_t n = 0;
  explicit HugeBuf(size_t bytes) : n((bytes + (size_t(2) << 20) - 1) & ~((size_t(2) << 20) - 1)) {
    void* m = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
#ifdef MADV_HUGEPAGE
    madvise(m, n, MADV_HUGEPAGE);
#endif
    p = static_cast<uint8_t*>(m);
  }
  ~HugeBuf() { munmap(p, n); }
  HugeBuf(const HugeBuf&) = delete;
  HugeBuf& operator=(const HugeBuf&) = delete;
};

// Sums 64-byte lines with AVX-512 where the CPU has it (a scalar loop cannot saturate DRAM).
#if G4_X86
__attribute__((target("avx512f"))) uint64_t sum_lines_avx512(const uint64_t* a, size_t n) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(a + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(a + i + 8));
  }
  return uint64_t(_mm512_reduce_add_epi64(_mm512_add_epi64(s0, s1)));
}
#endif

uint64_t sum_lines(const uint64_t* a, size_t n) {
#if G4_X86
  if (cpu_features().avx512f) return sum_lines_avx512(a, n);
#endif
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= n; i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
  return s0 + s1 + s2 + s3;
}

// Read bandwidth of this machine with the pool's threads (sum over a 1 GiB array in huge pages, the
// same memory the decode figures stream from).
double measure_bandwidth(ThreadPool& pool) {
  const size_t n = (size_t(1) << 30) / 8;
  HugeBuf buf(n * 8);
  uint64_t* a = reinterpret_cast<uint64_t*>(buf.p);
  pool.parallel_for(n, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) a[i] = i;
  });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<uint64_t> sums(size_t(pool.size()) * 8);
    const double t0 = now();
    pool.run([&](int ti, int nt) {
      const size_t b = (n * size_t(ti) / size_t(nt)) & ~size_t(15), e = (n * size_t(ti + 1) / size_t(nt)) & ~size_t(15);
      sums[size_t(ti) * 8] = sum_lines(a + b, e - b);
    });
    const double dt = now() - t0;
    best = std::max(best, double(n * 8) / dt / 1e9);
  }
  return best;
}

std::vector<size_t> parse_list(const std::string& s) {
  std::vector<size_t> v;
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = s.find(',', i);
    v.push_back(size_t(std::atol(s.substr(i, j == std::string::npos ? std::string::npos : j - i).c_str())));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  v.erase(std::remove(v.begin(), v.end(), size_t(0)), v.end());
  return v;
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
  std::vector<size_t> batches = {1};
  size_t n = 512;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--isa" && i + 1 < argc) isa = argv[++i];
    else if (a == "--quick") quick = true;
    else if (a == "--cpu-time") g_cpu_time = true;
    else if (a == "--only" && i + 1 < argc) g_only = argv[++i];
    else if (a == "--decode-only") prefill = false;
    else if (a == "--prefill-only") decode = false;
    else if (a == "--batch" && i + 1 < argc) batches = parse_list(argv[++i]);
    else if (a == "--shape" && i + 1 < argc) g_shape = argv[++i];
    else if (a == "--tokens" && i + 1 < argc) n = std::max<size_t>(1, size_t(std::atol(argv[++i])));
    else {
      std::fprintf(stderr, "unknown or incomplete option '%s'\n", a.c_str());
      return 2;
    }
  }
  if (batches.empty()) batches = {1};
  if (!isa.empty()) {
    bool known = false;
    for (kernels::Isa k : {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512, kernels::Isa::Amx,
                           kernels::Isa::Neon, kernels::Isa::NeonDot}) {
      if (isa != kernels::isa_name(k)) continue;
      known = true;
      try {
        kernels::force_isa(k);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "--isa %s: %s\n", isa.c_str(), e.what());
        return 2;
      }
    }
    if (!known) {
      std::fprintf(stderr, "--isa %s: expected scalar, avx2, avx512-vnni, amx, neon or neon-dot\n", isa.c_str());
      return 2;
    }
  }
  ThreadPool pool(threads);
  std::printf("threads %d, kernels %s (best %s)\n", threads, kernels::isa_name(kernels::active_isa()),
              kernels::isa_name(kernels::best_isa()));
  const double bw = decode ? measure_bandwidth(pool) : 0.0;
  if (decode) std::printf("measured read bandwidth: %.1f GB/s\n\n", bw);

  const WType types[] = {WType::Q4_0, WType::Q8_0, WType::Q4_K, WType::Q5_K, WType::Q6_K, WType::BF16,
                         WType::F16,  WType::F32,  WType::Q4_1, WType::Q5_0, WType::Q5_1, WType::Q2_K,
                         WType::Q3_K, WType::IQ4_NL, WType::IQ4_XS, WType::IQ3_S, WType::MXFP4, WType::IQ3_XXS,
                         WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S, WType::IQ1_S, WType::IQ1_M};
  const Shape shapes[] = {{"attn q 2048x1536", 2048, 1536},
                          {"ffn up 6144x1536", 6144, 1536},
                          {"ffn down 1536x6144", 1536, 6144},
                          {"lm_head 262144x1536", 262144, 1536}};
  std::printf("DECODE (tokens per call)      %-6s %3s %9s %8s %8s %7s %7s\n", "type", "T", "MB", "us/call", "GB/s",
              "roof%", "xT=1");
  for (const Shape& s : shapes) {
    if (!decode) break;
    if (std::string(s.name).find(g_shape) == std::string::npos) continue;
    for (WType t : types) {
      if (!g_only.empty() && g_only != wtype_info(t).name) continue;
      const size_t mbytes = wtype_row_bytes(t, s.cols) * size_t(s.rows);
      if (mbytes > (size_t(900) << 20)) continue;  // F32 lm_head: too big for this machine's share of RAM
      const size_t copies = std::max<size_t>(1, ((size_t(quick ? 256 : 512) << 20) + mbytes - 1) / mbytes);
      HugeBuf data(mbytes * copies + 64);
      fill_random(t, data.p, mbytes * copies, s.cols);
      const size_t max_t = *std::max_element(batches.begin(), batches.end());
      std::vector<float> x(max_t * size_t(s.cols)), y(max_t * size_t(s.rows));
      for (auto& v : x) v = float(int(rnd() % 2001) - 1000) * 1e-3f;
      Weight w{data.p, t, s.rows, s.cols};
      const int reps = int(std::max<size_t>(copies * (quick ? 2 : 4), 6));
      double t1 = 0;
      for (size_t nt : batches) {
        for (size_t c = 0; c < copies; ++c) {
          w.data = data.p + c * mbytes;
          matmul(w, x.data(), nt, y.data(), pool);
        }
        std::vector<double> times;
        for (int r = 0; r < reps; ++r) {
          w.data = data.p + (size_t(r) % copies) * mbytes;
          const double t0 = now();
          matmul(w, x.data(), nt, y.data(), pool);
          times.push_back(now() - t0);
        }
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2];
        if (nt == batches.front()) t1 = med;
        const double gbs = double(mbytes) / med / 1e9;
        std::printf("%-29s %-6s %3zu %9.1f %8.1f %8.1f %6.0f%% %7.2f\n", s.name, wtype_info(t).name, nt,
                    double(mbytes) / 1e6, med * 1e6, gbs, 100.0 * gbs / bw, med / t1);
      }
    }
  }

  std::printf("\nPREFILL (%zu tokens)          %-9s %9s %8s  %s\n", n, "type", "ms/call", "GFLOP/s", "path");
  const Shape pshapes[] = {{"attn q 2048x1536", 2048, 1536}, {"ffn up 6144x1536", 6144, 1536}, {"ffn down 1536x6144", 1536, 6144}};
  for (const Shape& s : pshapes) {
    if (!prefill) break;
    if (std::string(s.name).find(g_shape) == std::string::npos) continue;
    for (WType t : types) {
      if (!g_only.empty() && g_only != wtype_info(t).name) continue;
      const size_t mbytes = wtype_row_bytes(t, s.cols) * size_t(s.rows);
      std::vector<uint8_t> data(mbytes + 64);
      fill_random(t, data.data(), mbytes, s.cols);
      std::vector<float> x(n * size_t(s.cols)), y(n * size_t(s.rows));
      for (auto& v : x) v = float(int(rnd() % 2001) - 1000) * 1e-3f;
      Weight w{data.data(), t, s.rows, s.cols};
      // BF16 also with MatmulMath::Fast (activations rounded to bf16, the bf16 GEMMs): the row "BF16 fast".
      for (MatmulMath math : {MatmulMath::Exact, MatmulMath::Fast}) {
        if (math == MatmulMath::Fast && t != WType::BF16) continue;
        matmul(w, x.data(), n, y.data(), pool, math);
        std::vector<double> times;
        for (int r = 0; r < (quick ? 2 : 3); ++r) {
          const double t0 = now();
          matmul(w, x.data(), n, y.data(), pool, math);
          times.push_back(now() - t0);
        }
        std::sort(times.begin(), times.end());
        const double med = times[times.size() / 2];
        const double flops = 2.0 * double(n) * double(s.rows) * double(s.cols);
        const std::string name = std::string(wtype_info(t).name) + (math == MatmulMath::Fast ? " fast" : "");
        std::printf("%-29s %-9s %9.1f %8.1f  %s\n", s.name, name.c_str(), med * 1e3, flops / med / 1e9,
                    kernels::matmul_path_name(kernels::matmul_path(t, n, math)));
      }
    }
  }
  return 0;
}

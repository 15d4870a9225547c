// Seconds to encode one image with a real-size random vision tower (26B/31B: 27 layers, hidden 1152,
// MLP 4304, 16 heads x 72, bf16 weights), at 280 and 1120 soft tokens (2520 and 10080 patches), and the
// arithmetic rate it reaches.
//
//   vision_tower_bench [--threads N] [--model 26b|31b] [--tokens 280,1120] [--repeat R] [--layers L]
//                      [--math exact|fast|both]
//
// prints one JSON line per budget and arithmetic (TowerMath; default both): {"math":…, "tokens":…,
// "patches":…, "seconds":…, "gflop":…, "gflops":…, "cpu_s_per_thread":…}; cpu_s_per_thread (process CPU
// time / threads) is the load-independent figure on a shared machine.
// --layers L runs only L of the 27 layers (every layer costs the same) and also prints
// "seconds_27_layers": the measured time scaled to the whole tower, for slow or shared machines.
// Compare gflops with machine_peaks_bench's peaks (same --threads).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/vision_tower.h"
#include "model/weight_source.h"

namespace {

double flops(const g4::VisionConfig& c, double n) {
  const double H = c.hidden, I = c.intermediate, qkv = double(c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
  const double per_layer = 2 * n * (H * qkv + double(c.n_heads) * c.head_dim * H + 3 * H * I)  // projections and MLP
                           + 2 * 2 * n * n * double(c.n_heads) * c.head_dim;                     // scores and values
  return c.n_layers * per_layer + 2 * n * c.patch_values() * H + 2 * (n / 9) * H * c.text_hidden;
}

double process_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, repeat = 1, layers = 27;
  std::string model = "26b", tokens = "280,1120", math = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--model") model = argv[i + 1];
    else if (a == "--tokens") tokens = argv[i + 1];
    else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    else if (a == "--layers") layers = std::atoi(argv[i + 1]);
    else if (a == "--math") math = argv[i + 1];
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }
  g4::ThreadPool::set_default_threads(threads);
  g4::VisionConfig c;
  c.hidden = 1152;
  c.intermediate = 4304;
  c.n_layers = layers;
  c.n_heads = c.n_kv_heads = 16;
  c.head_dim = 72;
  c.position_table = 10240;
  c.standardize = true;
  c.text_hidden = model == "31b" ? 5376 : 2816;
  g4::RandomWeightSource src(g4::WType::BF16, 7);
  g4::VisionTower tower(c, src);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  size_t at = 0;
  while (at < tokens.size()) {
    size_t comma = tokens.find(',', at);
    const int budget = std::atoi(tokens.substr(at, comma - at).c_str());
    at = comma == std::string::npos ? tokens.size() : comma + 1;
    // A 3:4 grid of patches, both sides multiples of 3 (280 -> 42 x 60, 1120 -> 84 x 120).
    const int n = budget * 9;
    int w = int(std::lround(std::sqrt(n * 4.0 / 3.0) / 3.0)) * 3;
    while (n % w != 0 || (n / w) % 3 != 0) w += 3;
    const int h = n / w;
    std::vector<float> pixels(size_t(n) * size_t(c.patch_values()));
    for (float& p : pixels) p = u(rng);
    std::vector<int32_t> pos;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) { pos.push_back(x); pos.push_back(y); }
    std::vector<g4::TowerMath> maths;
    if (math != "fast") maths.push_back(g4::TowerMath::Exact);
    if (math != "exact") maths.push_back(g4::TowerMath::Fast);
    for (g4::TowerMath m : maths) {
      double best = 1e30, cpu_best = 1e30;
      int64_t got = 0;
      for (int r = 0; r < repeat; ++r) {
        const double c0 = process_cpu();
        auto t0 = std::chrono::steady_clock::now();
        std::vector<float> soft = tower.encode(pixels.data(), pos.data(), n, &got, m);
        best = std::min(best, seconds_since(t0));
        cpu_best = std::min(cpu_best, (process_cpu() - c0) / threads);
      }
      const double f = flops(c, n);
      g4::VisionConfig full = c;
      full.n_layers = 27;
      const double scale = flops(full, n) / f;  // the layers dominate; embedding and pooling are ~0.1 %
      std::printf("{\"model\":\"%s\",\"math\":\"%s\",\"tokens\":%lld,\"patches\":%d,\"grid\":\"%dx%d\",\"threads\":%d,"
                  "\"layers\":%d,\"seconds\":%.3f,\"seconds_27_layers\":%.1f,\"cpu_s_per_thread\":%.3f,"
                  "\"cpu_s_per_thread_27_layers\":%.1f,\"gflop\":%.1f,\"gflops\":%.1f}\n",
                  model.c_str(), m == g4::TowerMath::Fast ? "fast" : "exact", (long long)got, n, w, h, threads, layers, best,
                  best * scale, cpu_best, cpu_best * scale, f / 1e9, f / best / 1e9);
      std::fflush(stdout);
    }
  }
  return 0;
}

// Seconds to encode a clip with a real-size Gemma 4 audio tower (random bf16 weights): the conformer of
// E2B and E4B (1024 wide, 12 layers, 8 heads, output 1536) with embed_audio into the text width (E2B 1536,
// E4B 2560), on log-mel features of `seconds` of audio (100 frames per second).
//
//   audio_tower_bench [--model e2b|e4b] [--seconds 10] [--threads 2] [--reps 3]
//
// prints one JSON line: {"model", "threads", "seconds_audio", "frames", "tokens", "gflop", "encode_s" (median),
// "gflops", "cpu_s_per_thread", "gflops_per_cpu"}: the last two from the process's CPU time divided by the
// threads, the machine-load-independent figure on a shared machine. gflop counts the multiply-adds of the matrix products (2 flops each), the work the kernels do.
// Compare gflops with build/machine_peaks_bench's f32_flops (the tower multiplies in f32).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "model/audio_tower.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds of the whole process (all threads): on a machine shared with other jobs, cpu / threads is
// the wall time the encode would take with its cores to itself (spin-waits between jobs included).
double process_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Random weights, with clipping bounds as wide as a trained checkpoint's usually are (random ones of
// magnitude ~1 would clamp nearly everything: the same work, but unlike real activations).
class BenchSource : public g4::WeightSource {
 public:
  BenchSource() : random_(g4::WType::BF16, 7) {}
  // Scalars (the clipping bounds) are looked up by name first (TowerBinder::scalar), then read by shape.
  const g4::SourceTensor* find(const std::string& name) const override {
    return is_bound(name) ? find_shaped(name, {}) : random_.find(name);
  }
  const g4::SourceTensor* find_shaped(const std::string& name, const std::vector<int64_t>& shape) const override {
    if (!is_bound(name)) return random_.find_shaped(name, shape);
    const bool lo = name.compare(name.size() - 4, 4, "_min") == 0;
    auto it = bounds_.find(name);
    if (it != bounds_.end()) return &it->second;
    g4::SourceTensor& t = bounds_[name];
    t.name = name;
    t.type = g4::WType::F32;
    t.data = reinterpret_cast<const uint8_t*>(lo ? &kLo : &kHi);
    t.nbytes = 4;
    t.file = "bench";
    return &t;
  }
  std::string describe() const override { return "random weights"; }
  static bool is_bound(const std::string& name) {
    return name.size() > 4 && (name.compare(name.size() - 4, 4, "_min") == 0 || name.compare(name.size() - 4, 4, "_max") == 0);
  }

 private:
  static constexpr float kLo = -100.0f, kHi = 100.0f;
  g4::RandomWeightSource random_;
  mutable std::map<std::string, g4::SourceTensor> bounds_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string model = "e2b";
  double seconds = 10;
  int threads = 2, reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) model = argv[++i];
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: audio_tower_bench [--model e2b|e4b] [--seconds S] [--threads N] [--reps N]\n");
      return 2;
    }
  }
  if (model != "e2b" && model != "e4b") {
    std::fprintf(stderr, "--model must be e2b or e4b\n");
    return 2;
  }
  g4::ThreadPool::set_default_threads(threads);
  g4::AudioConfig c;  // transformers' defaults are the E2B/E4B tower
  c.text_hidden_size = model == "e2b" ? 1536 : 2560;
  g4::AudioTower tower(c, std::make_shared<BenchSource>());
  c = tower.config();

  const int64_t frames = std::max<int64_t>(1, int64_t(seconds * 100.0));
  std::vector<float> features(size_t(frames * c.n_mel));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : features) x = normal(rng);

  // Multiply-adds of the matrix products.
  const int64_t T1 = (frames + 1) / 2, T = (T1 + 1) / 2, F2 = (c.n_mel / 2 + 1) / 2, H = c.hidden_size;
  double macs = double(T) * F2 * c.sub_channels1 * 9.0 * c.sub_channels0;   // second convolution
  macs += double(T1) * (c.n_mel / 2) * c.sub_channels0 * 9.0;                // first convolution
  macs += double(T) * (F2 * c.sub_channels1) * H;                             // input projection
  macs += double(c.n_layers) * T * 23.0 * H * H;                              // 2 FF (16 H^2), q k v post, GLU in/out
  macs += double(T) * H * c.output_dims + double(T) * c.output_dims * c.text_hidden_size;

  g4::AudioSoftTokens out = tower.encode(features.data(), frames, c.n_mel, nullptr);  // warm-up
  std::vector<double> times, cpus;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now(), c0 = process_cpu();
    out = tower.encode(features.data(), frames, c.n_mel, nullptr);
    times.push_back(now() - t0);
    cpus.push_back((process_cpu() - c0) / threads);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpus.begin(), cpus.end());
  const double med = times[times.size() / 2], cpu = cpus[cpus.size() / 2];
  std::printf(
      "{\"model\": \"%s\", \"threads\": %d, \"seconds_audio\": %.3g, \"frames\": %lld, \"tokens\": %lld, \"gflop\": %.4g, "
      "\"encode_s\": %.4g, \"gflops\": %.4g, \"cpu_s_per_thread\": %.4g, \"gflops_per_cpu\": %.4g}\n",
      model.c_str(), threads, seconds, (long long)frames, (long long)out.n, 2 * macs / 1e9, med, 2 * macs / 1e9 / med, cpu,
      2 * macs / 1e9 / cpu);
  return 0;
}

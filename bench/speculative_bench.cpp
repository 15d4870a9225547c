// speculative_bench: what speculative decoding can gain on a model file. Measures the cost of one target
// pass over k = 1..8 tokens at a given depth (relative to k = 1: decoding is memory-bound, so verifying
// several tokens should cost little more than one) and of one step of a real-size random MTP drafter
// (relative to a target step), then projects the speed-up at acceptance rates 0.5/0.7/0.9: with drafts of
// length k accepted independently with probability a, a pass yields (1 - a^(k+1)) / (1 - a) tokens and
// costs T(k+1) + k * D, against T(1) per token without drafts; the best k is shown.
//
//   build/speculative_bench --model FILE.gguf [--threads 2] [--depth 256] [--reps 5] [--load map]
//                           [--drafter DIR_OR_GGUF]   (default: a random drafter of the released shape, bf16)
//
// Not a test: it prints a table. Random weights accept nothing, so the acceptance rates are a model input.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "model/drafter.h"
#include "model/model.h"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU time of the whole process: on a machine shared with other jobs, wall time measures the neighbours too.
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, drafter_path, load = "auto";
  int threads = 2, depth = 256, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") path = v;
    else if (k == "--drafter") drafter_path = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--depth") depth = std::atoi(v.c_str());
    else if (k == "--reps") reps = std::atoi(v.c_str());
    else if (k == "--load") load = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (path.empty() || depth < 16 || reps < 1 || threads < 1) {
    std::fprintf(stderr, "usage: speculative_bench --model FILE [--threads 2] [--depth 256] [--reps 5] [--load auto|map|read] [--drafter PATH]\n");
    return 2;
  }
  g4::ThreadPool::set_default_threads(threads);
  g4::set_default_load_mode(g4::parse_load_mode(load));
  auto model = g4::load_model(path);
  const g4::ModelConfig& c = model->config();
  std::unique_ptr<g4::Drafter> drafter;
  if (!drafter_path.empty()) {
    drafter = g4::load_drafter(drafter_path);
  } else {
    const g4::DrafterShape s = g4::drafter_shape_for(c);
    drafter = g4::random_drafter(g4::drafter_config_json(c, s), g4::WType::BF16, 7);
  }
  drafter->check_compatible(c);
  model->prefetch();
  std::printf("model %s: %d layers, hidden %d, %.2f GB of weights; drafter: %d layers, hidden %d, %s head, %.0f M params (%.2f GB)\n",
              path.c_str(), c.n_layers, c.hidden_size, double(model->weight_bytes()) / 1e9, drafter->config().text.n_layers,
              drafter->config().text.hidden_size, drafter->config().ordered_embeddings ? "ordered" : "plain",
              double(drafter->parameter_count()) / 1e6, double(drafter->weight_bytes()) / 1e9);

  auto cache = model->new_cache(depth + 16, 512);
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(static_cast<size_t>(depth));
  for (auto& t : prompt) t = int32_t(3 + rng() % 200000 % uint32_t(c.vocab_size - 3));
  std::vector<float> hidden;
  model->prefill(*cache, prompt, false, nullptr, &hidden);
  const int64_t n0 = cache->n_past();

  // Target passes of k tokens at depth `depth`, logits for every token (as verification needs them).
  std::vector<double> T(9, 0.0), TC(9, 0.0);
  std::vector<float> logits, hid;
  for (int k = 1; k <= 8; ++k) {
    std::vector<int32_t> ids(static_cast<size_t>(k));
    for (auto& t : ids) t = int32_t(3 + rng() % uint32_t(c.vocab_size - 3));
    std::vector<double> times, cpu;
    for (int r = 0; r < reps + 1; ++r) {
      std::vector<g4::BatchItem> batch(1);
      batch[0].cache = cache.get();
      batch[0].ids = ids.data();
      batch[0].n_tokens = k;
      batch[0].all_logits = k > 1;
      batch[0].logits = &logits;
      batch[0].hidden = &hid;
      const double t0 = now(), c0 = cpu_now();
      model->forward(batch);
      const double t1 = now(), c1 = cpu_now();
      cache->truncate(n0);
      if (r > 0) {  // the first run warms up
        times.push_back(t1 - t0);
        cpu.push_back(c1 - c0);
      }
    }
    T[size_t(k)] = median(times);
    TC[size_t(k)] = median(cpu);
  }
  // Drafter steps (each its own forward over the drafter, at the same position).
  std::vector<double> dt, dc;
  std::vector<float> dl(static_cast<size_t>(c.vocab_size)), hn(static_cast<size_t>(c.hidden_size));
  for (int r = 0; r < 3 * reps + 1; ++r) {
    const double t0 = now(), c0 = cpu_now();
    drafter->step(*model, *cache, cache->n_past(), 17, hidden.data(), dl.data(), hn.data());
    if (r > 0) {
      dt.push_back(now() - t0);
      dc.push_back(cpu_now() - c0);
    }
  }
  const double D = median(dt), DC = median(dc);

  auto table = [&](const char* what, const std::vector<double>& t, double d) {
    std::printf("\n%s: target pass over k tokens at depth %d, %d threads (median of %d):\n  k  ", what, depth, threads, reps);
    for (int k = 1; k <= 8; ++k) std::printf("%8d", k);
    std::printf("\n  ms ");
    for (int k = 1; k <= 8; ++k) std::printf("%8.1f", t[size_t(k)] * 1e3);
    std::printf("\n  x1 ");
    for (int k = 1; k <= 8; ++k) std::printf("%8.2f", t[size_t(k)] / t[1]);
    std::printf("\n  drafter step: %.2f ms = %.1f %% of a target step\n  projected speed-up (best draft length k, verifying k + 1 tokens):", d * 1e3,
                100.0 * d / t[1]);
    for (double a : {0.5, 0.7, 0.9}) {
      double best = 0;
      int best_k = 0;
      for (int k = 1; k <= 7; ++k) {
        const double tokens = (1 - std::pow(a, k + 1)) / (1 - a);
        const double speedup = tokens * t[1] / (t[size_t(k + 1)] + k * d);
        if (speedup > best) {
          best = speedup;
          best_k = k;
        }
      }
      std::printf("  a=%.1f: %.2fx (k=%d)", a, best, best_k);
    }
    std::printf("\n");
  };
  table("wall time", T, D);
  table("process CPU time", TC, DC);
  return 0;
}

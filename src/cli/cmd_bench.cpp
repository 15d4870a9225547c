// gemma4 bench: llama-bench-like timing of prompt processing (pp) and token generation (tg) on any
// model file, with random token ids (so random-weight files work). The last stdout line is JSON with
// the medians when --json is given.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/json.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run_bench(int argc, char** argv) {
  g4::cli::Args args("bench", "Measure prompt processing and token generation speed (random token ids, median of --reps).");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args
      .option("pp", "N", "prompt tokens, evaluated in forward passes of --chunk tokens (0: skip)", false, "512")
      .option("chunk", "N", "prompt tokens per forward pass, as run/chat/serve feed them (llama.cpp's -ub)", false, "512")
      .option("tg", "N", "tokens generated one at a time, greedy (0: skip)", false, "128")
      .option("depth", "N", "tokens already in the cache when tg starts (prefilled untimed; decode speed at long context)",
              false, "0")
      .option("batch", "N", "sequences decoded together in tg (each with its own cache and --depth); t/s is their sum",
              false, "1")
      .option("reps", "N", "repetitions; the median is reported", false, "3")
      .option("warmup", "N", "warm-up runs (a 32-token prompt and 4 generated tokens each)", false, "1")
      .option("seed", "N", "seed for the random token ids", false, "42")
      .flag("json", "print one JSON line with the results last on stdout");
  g4::cli::add_kv_type_option(args, g4::KVType::F16);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  const long long pp = args.get_int("pp"), tg = args.get_int("tg"), reps = args.get_int("reps"), warm = args.get_int("warmup");
  const long long depth = args.get_int("depth");
  if (pp < 0 || tg < 0 || reps < 1 || warm < 0 || depth < 0)
    throw g4::Error("bench: --pp/--tg/--warmup/--depth must be >= 0 and --reps >= 1");

  const long long chunk = args.get_int("chunk"), batch = args.get_int("batch");
  if (batch < 1 || batch > 256) throw g4::Error("bench: --batch must be between 1 and 256");
  if (chunk < 1 || chunk > 65536) throw g4::Error("bench: --chunk must be between 1 and 65536");
  const int64_t ctx = std::max<long long>({pp, depth + tg, 32}) + 8;
  g4::cli::check_memory_before_loading(args.get("model"), ctx, int(std::min<long long>(chunk, std::max(pp, 1LL))), kv_type,
                                        0, int(batch));

  const double t_load0 = now_s();
  auto model = g4::load_model(args.get("model"));
  const double load_s = now_s() - t_load0;
  const int V = model->config().vocab_size;
  std::mt19937 rng(uint32_t(args.get_int("seed")));
  const int lo = V > 512 ? 256 : 0;
  std::uniform_int_distribution<int> dist(lo, V - 1);
  auto rand_ids = [&](long long n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& x : ids) x = dist(rng);
    return ids;
  };

  auto run_pp = [&](long long n) {
    auto cache = model->new_cache(ctx, int(std::min(chunk, std::max<long long>(n, 1))), kv_type);
    std::vector<int32_t> ids = rand_ids(n);
    double t0 = now_s();
    model->prefill(*cache, ids);
    return double(n) / (now_s() - t0);
  };
  // n steps of `batch` sequences decoding one token each in one forward pass (greedy).
  auto run_tg = [&](long long n, long long d) {
    std::vector<std::unique_ptr<g4::KVCache>> caches;
    std::vector<int32_t> toks;
    std::vector<std::vector<float>> logits(static_cast<size_t>(batch));
    for (long long b = 0; b < batch; ++b) {
      caches.push_back(model->new_cache(ctx, d > 0 ? int(std::min(chunk, d)) : 1, kv_type));
      if (d > 0) model->prefill(*caches.back(), rand_ids(d));
      toks.push_back(rand_ids(1)[0]);
    }
    std::vector<g4::BatchItem> items(static_cast<size_t>(batch));
    double t0 = now_s();
    for (long long i = 0; i < n; ++i) {
      for (long long b = 0; b < batch; ++b) {
        g4::BatchItem& it = items[size_t(b)];
        it.cache = caches[size_t(b)].get();
        it.ids = &toks[size_t(b)];
        it.n_tokens = 1;
        it.logits = &logits[size_t(b)];
      }
      model->forward(items);
      for (long long b = 0; b < batch; ++b)
        toks[size_t(b)] = int32_t(std::max_element(logits[size_t(b)].begin(), logits[size_t(b)].end()) - logits[size_t(b)].begin());
    }
    return double(n * batch) / (now_s() - t0);
  };

  for (long long w = 0; w < warm; ++w) {
    if (pp > 0) run_pp(std::min(32LL, pp));
    if (tg > 0) run_tg(std::min(4LL, tg), 0);
  }
  std::vector<double> pps, tgs;
  for (long long r = 0; r < reps && pp > 0; ++r) pps.push_back(run_pp(pp));
  for (long long r = 0; r < reps && tg > 0; ++r) tgs.push_back(run_tg(tg, depth));

  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mb = double(ru.ru_maxrss) / 1024.0;
  const int threads = g4::ThreadPool::global().size();
  std::printf("model %s | %s | %d layers | weights %.3f GB | KV %s | threads %d | load %.2f s | peak RSS %.0f MiB\n",
              args.get("model").c_str(), model->config().family_name().c_str(), model->config().n_layers,
              double(model->weight_bytes()) / 1e9, g4::kv_types_name(kv_type).c_str(), threads, load_s, rss_mb);
  if (pp > 0) std::printf("pp%lld: %.2f t/s (median of %lld; min %.2f, max %.2f)\n", pp, median(pps), reps,
                          *std::min_element(pps.begin(), pps.end()), *std::max_element(pps.begin(), pps.end()));
  if (tg > 0) std::printf("tg%lld%s%s: %.2f t/s (median of %lld; min %.2f, max %.2f)\n", tg,
                          depth > 0 ? (" @ depth " + std::to_string(depth)).c_str() : "",
                          batch > 1 ? (" x " + std::to_string(batch) + " sequences").c_str() : "", median(tgs), reps,
                          *std::min_element(tgs.begin(), tgs.end()), *std::max_element(tgs.begin(), tgs.end()));
  if (args.has("json")) {
    g4::Json j;
    j["pp_tps"] = pp > 0 ? g4::Json(median(pps)) : g4::Json(nullptr);
    j["tg_tps"] = tg > 0 ? g4::Json(median(tgs)) : g4::Json(nullptr);
    j["pp"] = pp;
    j["tg"] = tg;
    j["depth"] = depth;
    j["chunk"] = chunk;
    j["batch"] = batch;
    j["pp_samples"] = pps;
    j["tg_samples"] = tgs;
    j["threads"] = threads;
    j["kv_type"] = g4::kv_types_name(kv_type).c_str();
    j["load_s"] = load_s;
    j["peak_rss_mib"] = rss_mb;
    j["weight_bytes"] = model->weight_bytes();
    std::printf("%s\n", j.dump().c_str());
  }
  return 0;
}

}  // namespace

G4_COMMAND("bench", "measure prompt processing and generation speed (pp/tg t/s)", run_bench);

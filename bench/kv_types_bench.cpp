// kv_types_bench: what each KV-cache type costs in accuracy on a given model, against the f32 cache (exact
// attention): mean KL of the next-token distributions and top-1 agreement over the last positions of a
// random prompt, fed in 512-token chunks.
//
//   build/kv_types_bench --model FILE [--tokens 2048] [--last 64] [--threads 2]
//
// Every type pair the model's head dims allow is measured (q8_0 and q4_0 need multiples of 32). Random
// prompts and random-weight models are fine for this: the figure is the distance between two runs of the
// same model. Not a test: it prints a table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/drift.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace {

struct Result {
  g4::Drift drift;
  double max_rel = 0;  // max |got - ref| / max |ref| over every logit
};

Result compare(const std::vector<float>& got, const std::vector<float>& ref, int vocab) {
  Result res;
  res.drift = g4::distribution_drift(got.data(), ref.data(), ref.size() / size_t(vocab), size_t(vocab));
  double ref_max = 0, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ref_max = std::max(ref_max, double(std::fabs(ref[i])));
    err = std::max(err, std::fabs(double(got[i]) - double(ref[i])));
  }
  res.max_rel = ref_max > 0 ? err / ref_max : err;
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int tokens = 2048, last = 64, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") path = v;
    else if (k == "--tokens") tokens = std::atoi(v.c_str());
    else if (k == "--last") last = std::atoi(v.c_str());
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (path.empty() || last < 1 || tokens <= last) {
    std::fprintf(stderr, "usage: kv_types_bench --model FILE [--tokens N] [--last M < N] [--threads T]\n");
    return 2;
  }
  try {
    if (threads > 0) g4::ThreadPool::set_default_threads(threads);
    auto model = g4::load_model(path);
    const int vocab = model->config().vocab_size;
    std::mt19937 rng(7);
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (int32_t& x : ids) x = int32_t(rng() % uint32_t(vocab > 512 ? vocab - 256 : vocab)) + (vocab > 512 ? 256 : 0);
    const std::vector<int32_t> head(ids.begin(), ids.end() - last), tail(ids.end() - last, ids.end());
    auto run = [&](g4::KVTypes t) {
      auto cache = model->new_cache(tokens, 512, t);
      model->prefill(*cache, head);
      return model->prefill(*cache, tail, true);
    };
    const std::vector<float> ref = run(g4::KVType::F32);
    std::printf("model %s: %d-token random prompt, logits of the last %d positions against the f32 cache\n",
                path.c_str(), tokens, last);
    std::printf("| K type | V type | mean KL | top-1 | max rel. logit error |\n|---|---|---|---|---|\n");
    const g4::KVType types[] = {g4::KVType::F16, g4::KVType::BF16, g4::KVType::Q8_0, g4::KVType::Q4_0};
    for (g4::KVType k : types)
      for (g4::KVType v : types) {
        if (k != v && !(k == g4::KVType::Q8_0 && v == g4::KVType::Q4_0) && !(k == g4::KVType::F16 && v == g4::KVType::Q8_0))
          continue;  // both alike, plus the two mixes people use
        try {
          g4::check_kv_types(model->config(), g4::KVTypes(k, v));
        } catch (const std::exception& e) {
          std::printf("| %s | %s | - | - | (%s) |\n", g4::kv_type_name(k), g4::kv_type_name(v), e.what());
          continue;
        }
        const Result r = compare(run(g4::KVTypes(k, v)), ref, vocab);
        std::printf("| %s | %s | %.3g | %.1f %% | %.3g |\n", g4::kv_type_name(k), g4::kv_type_name(v), r.drift.kl,
                    100 * r.drift.top1, r.max_rel);
        std::fflush(stdout);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv_types_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

#include "runtime/generator.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace g4 {

GenerationResult generate(const Model& model, KVCache& cache, const GenerationRequest& req, const TokenCallback& on_token) {
  using clock = std::chrono::steady_clock;
  GenerationResult result;
  result.prompt_tokens = int(req.prompt.size());
  if (req.prompt.empty()) throw Error("generation needs at least one prompt token");
  if (req.max_tokens < 0) throw Error("max_tokens must not be negative");
  Sampler sampler(req.sampling);
  std::vector<int32_t> eog = req.eog_ids;
  if (eog.empty()) for (int id : model.config().eog_ids) eog.push_back(id);
  const int32_t V = model.config().vocab_size;
  std::vector<int32_t> history(req.prompt);

  auto t0 = clock::now();
  std::vector<float> logits = model.prefill(cache, req.prompt);
  auto t1 = clock::now();
  result.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.finish_reason = "length";
  for (int i = 0; i < req.max_tokens; ++i) {
    int32_t next = sampler.sample(logits.data(), V, history);
    result.tokens.push_back(next);
    history.push_back(next);
    bool is_eog = std::find(eog.begin(), eog.end(), next) != eog.end();
    bool keep_going = on_token ? on_token(next) : true;
    if ((is_eog && !req.ignore_eos) || !keep_going) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 == req.max_tokens) break;
    logits = model.prefill(cache, {next});
  }
  result.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return result;
}

}  // namespace g4

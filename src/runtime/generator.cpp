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
  std::vector<int32_t> history(req.prompt);
  Decoder decoder(model, cache, sampler, req.drafts, req.draft_max);

  auto t0 = clock::now();
  decoder.prefill(req.prompt);
  auto t1 = clock::now();
  result.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.finish_reason = "length";
  bool done = false;
  while (!done && int(result.tokens.size()) < req.max_tokens) {
    const std::vector<int32_t> toks = decoder.next(history, req.max_tokens - int(result.tokens.size()));
    for (size_t j = 0; j < toks.size() && !done; ++j) {
      const int32_t tok = toks[j];
      result.tokens.push_back(tok);
      const bool is_eog = std::find(eog.begin(), eog.end(), tok) != eog.end();
      const bool keep_going = on_token ? on_token(tok) : true;
      if ((is_eog && !req.ignore_eos) || !keep_going) {
        result.finish_reason = "stop";
        decoder.drop_unused(int(j) + 1);
        done = true;
      }
    }
  }
  result.decode_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  result.speculative = decoder.stats();
  return result;
}

}  // namespace g4

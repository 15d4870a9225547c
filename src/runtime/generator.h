#pragma once
// Token-level generation: prefill the prompt, then decode one token at a time until an
// end-of-generation token, the token budget, or the callback says stop. Text-level concerns (stop
// strings, detokenization, output parsing) sit on top, in the callback.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/sampler.h"
#include "runtime/speculative.h"

namespace g4 {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  bool ignore_eos = false;
  std::vector<int32_t> eog_ids;              // end-of-generation ids (empty: the model's)
  // Speculative decoding (runtime/speculative.h): proposals of up to draft_max tokens per target pass.
  DraftSource* drafts = nullptr;
  int draft_max = 4;
};

struct GenerationResult {
  std::vector<int32_t> tokens;               // generated ids (an end-of-generation id is included)
  std::string finish_reason;                 // "stop" (EOG or callback) or "length"
  int prompt_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  SpeculativeStats speculative;              // drafted / accepted (zero without drafts)
};

// Called with each new token; return false to stop after it.
using TokenCallback = std::function<bool(int32_t token)>;

// Runs generation on a fresh or continued cache: `cache` must already hold any earlier context; the
// prompt is appended to it.
GenerationResult generate(const Model& model, KVCache& cache, const GenerationRequest& request,
                          const TokenCallback& on_token = nullptr);

}  // namespace g4

#pragma once
// Token sampling: logit bias, constrained-decoding mask, repetition/presence/frequency penalties,
// then top-k -> top-p -> min-p -> temperature -> draw (llama.cpp's default chain order; the
// truncation filters see temperature-1 probabilities). temperature 0 (or greedy) = argmax.
// A Sampler owns its PRNG (std::mt19937_64 seeded with `seed`), so the same seed, parameters and
// logits give the same tokens on every run and platform.
#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace g4 {

struct SamplingParams {
  bool greedy = false;
  float temperature = 1.0f;        // >= 0; 0 means greedy
  int top_k = 0;                   // 0 = off
  float top_p = 1.0f;              // (0, 1]; 1 = off
  float min_p = 0.0f;              // [0, 1]; 0 = off (keeps p >= min_p * p_max)
  float repetition_penalty = 1.0f; // > 0; 1 = off (HF/CTRL style: divide positive logits, multiply negative)
  float presence_penalty = 0.0f;   // OpenAI style: logit -= presence * (count > 0)
  float frequency_penalty = 0.0f;  // OpenAI style: logit -= frequency * count
  int penalty_window = 0;          // penalties look at the last N history ids; 0 = the whole history
  uint64_t seed = 0;               // always used as given: pick a random one yourself for variety
  std::map<int32_t, float> logit_bias;  // added to the raw logits first; -inf bans a token
};

// Throws g4::Error naming the offending parameter.
void validate_sampling_params(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(SamplingParams params);  // validates

  // Picks the next token. `logits` (n_vocab floats) is used as scratch and modified.
  // `history` holds prompt + generated ids (for penalties). `allowed_mask`, if given, has n_vocab
  // entries; a token may be chosen only when mask[id] != 0. Throws g4::Error when no token is
  // allowed or a logit_bias id is out of range.
  int32_t sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& history,
                 const std::vector<uint8_t>* allowed_mask = nullptr);

  const SamplingParams& params() const { return params_; }
  void reseed(uint64_t seed);

  // A seed from std::random_device, for callers that want non-reproducible output.
  static uint64_t random_seed();

 private:
  void apply_penalties(float* logits, int32_t n_vocab, const std::vector<int32_t>& history);
  double uniform01();

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> counts_;                 // scratch, n_vocab zeros between calls
  std::vector<int32_t> touched_;                // scratch
  std::vector<std::pair<float, int32_t>> cand_; // scratch
  std::vector<double> probs_;                   // scratch
  std::vector<double> bucket_mass_;             // scratch
  std::vector<uint16_t> bucket_of_;             // scratch
};

}  // namespace g4

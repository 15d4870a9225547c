#pragma once
// Token sampling. The chain, in llama.cpp's default order:
//
//   logit bias -> constrained-decoding mask -> repetition/presence/frequency penalties -> DRY
//   -> (temperature 0 or greedy: argmax)
//   -> top-k -> locally typical -> top-p -> min-p -> XTC -> temperature -> draw
//
// The truncation filters (top-k, typical, top-p, min-p, XTC) see temperature-1 probabilities of the
// tokens still in play. Mirostat (1 or 2) replaces the whole truncation part: temperature, then
// Mirostat's own truncation and draw (as llama.cpp does, top-k/typical/top-p/min-p/XTC are then not
// applied); penalties and DRY still are.
//
// A Sampler owns its PRNG (std::mt19937_64 seeded with `seed`) and Mirostat's running state, so the
// same seed, parameters and logits give the same tokens on every run and platform. One Sampler per
// generated sequence.
//
// The algorithms, as implemented here:
//  - repetition penalty (CTRL): a token seen in the window has a positive logit divided by the penalty,
//    a negative one multiplied. presence/frequency (OpenAI): logit -= presence + frequency * count.
//  - DRY ("don't repeat yourself", p-e-w): if the history ends with a sequence that occurred before,
//    the token that followed that earlier occurrence would extend the repetition; with L the length of
//    the longest such repeated suffix, it loses multiplier * base^(L - allowed_length) from its logit
//    when L >= allowed_length. Matching stops at sequence breakers: a token whose text contains one of
//    the breaker strings never belongs to a matched sequence (nor is penalised as a continuation).
//    L is capped at 50 tokens.
//  - locally typical (Meister et al.): with H the entropy of the candidates' distribution, keep the
//    tokens whose surprise -ln p is closest to H, fewest first, until their mass reaches typical_p.
//  - XTC ("exclude top choices"): with probability xtc_probability, when two or more candidates have
//    p >= xtc_threshold, remove all of them but the least likely one.
//  - Mirostat 1 (Basu et al., Algorithm 1): estimate the Zipf exponent s from the 100 most likely
//    tokens, set k = (e * 2^mu / (1 - N^-e))^(1/s) with e = s - 1 and N the vocabulary size, sample
//    from the top k, then mu -= eta * (surprise - tau), surprise = -log2 of the sampled token's
//    probability among the kept ones. mu starts at 2 * tau.
//  - Mirostat 2: keep the tokens with surprise -log2 p <= mu (at least the most likely one), sample
//    among them, update mu the same way.
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace g4 {

struct SamplingParams {
  bool greedy = false;
  float temperature = 1.0f;        // >= 0; 0 means greedy
  int top_k = 0;                   // 0 = off
  float top_p = 1.0f;              // (0, 1]; 1 = off
  float min_p = 0.0f;              // [0, 1]; 0 = off (keeps p >= min_p * p_max)
  float typical_p = 1.0f;          // [0, 1]; 1 = off (locally typical sampling)
  float repetition_penalty = 1.0f; // > 0; 1 = off (HF/CTRL style: divide positive logits, multiply negative)
  float presence_penalty = 0.0f;   // OpenAI style: logit -= presence * (count > 0)
  float frequency_penalty = 0.0f;  // OpenAI style: logit -= frequency * count
  int penalty_window = 0;          // penalties look at the last N history ids; 0 = the whole history
  float dry_multiplier = 0.0f;     // >= 0; 0 = DRY off
  float dry_base = 1.75f;          // >= 1
  int dry_allowed_length = 2;      // >= 0: repeats up to this long are free
  int dry_window = 0;              // DRY looks at the last N history ids; 0 = the whole history
  std::vector<std::string> dry_sequence_breakers = {"\n", ":", "\"", "*"};  // non-empty strings
  float xtc_probability = 0.0f;    // [0, 1]; 0 = XTC off
  float xtc_threshold = 0.1f;      // [0, 1]; above 0.5 it can never remove anything
  int mirostat = 0;                // 0 = off, 1 = Mirostat, 2 = Mirostat 2.0
  float mirostat_tau = 5.0f;       // target surprise in bits, >= 0
  float mirostat_eta = 0.1f;       // learning rate, >= 0
  uint64_t seed = 0;               // always used as given: pick a random one yourself for variety
  std::map<int32_t, float> logit_bias;  // added to the raw logits first; -inf bans a token
};

// Throws g4::Error naming the offending parameter.
void validate_sampling_params(const SamplingParams& p);

class Sampler {
 public:
  // The text of a token (for DRY's sequence breakers).
  using TokenText = std::function<std::string(int32_t)>;

  // Validates. DRY with sequence breakers needs `token_text` (g4::Error otherwise).
  explicit Sampler(SamplingParams params, TokenText token_text = {});

  // Picks the next token. `logits` (n_vocab floats) is used as scratch and modified.
  // `history` holds the ids seen so far (for penalties and DRY). `allowed_mask`, if given, has n_vocab
  // entries; a token may be chosen only when mask[id] != 0. Throws g4::Error when no token is
  // allowed or a logit_bias id is out of range.
  int32_t sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& history,
                 const std::vector<uint8_t>* allowed_mask = nullptr);

  const SamplingParams& params() const { return params_; }
  void reseed(uint64_t seed);
  // Mirostat's current maximum surprise (2 * tau before the first token).
  double mirostat_mu() const { return mu_; }

  // A seed from std::random_device, for callers that want non-reproducible output.
  static uint64_t random_seed();

 private:
  void apply_penalties(float* logits, int32_t n_vocab, const std::vector<int32_t>& history);
  void apply_dry(float* logits, int32_t n_vocab, const std::vector<int32_t>& history);
  bool is_breaker(int32_t id);
  void top_k_filter(const float* logits, int32_t n_vocab, int k);
  void typical_filter();
  void top_p_filter(float ref);
  void min_p_filter();
  void xtc_filter();
  int32_t draw(float temperature);
  int32_t mirostat_sample(const float* logits, int32_t n_vocab, float best_l);
  void sort_candidates();
  double uniform01();

  SamplingParams params_;
  TokenText token_text_;
  std::mt19937_64 rng_;
  double mu_ = 0;                               // Mirostat state
  bool sorted_ = false;                         // cand_ is in descending logit order
  std::unordered_map<int32_t, bool> breaker_;   // DRY: token id -> holds a sequence breaker
  std::vector<int32_t> counts_;                 // scratch, n_vocab zeros between calls
  std::vector<int32_t> touched_;                // scratch
  std::vector<std::pair<float, int32_t>> cand_; // scratch: (logit, id) still in play
  std::vector<double> probs_;                   // scratch
  std::vector<double> bucket_mass_;             // scratch
  std::vector<uint16_t> bucket_of_;             // scratch
  std::unordered_map<int32_t, int> dry_len_;    // scratch: DRY continuation token -> match length
};

// Log-probabilities of the model's own distribution (log-softmax of the logits, before any sampling
// transform): what the API reports as logprobs.
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
};
// log(sum(exp(logits))), computed stably; -inf logits count as zero probability.
double log_sum_exp(const float* logits, int32_t n_vocab);
// The k most likely tokens with their log-probabilities (logit - lse), most likely first, ties to the
// lower id. k is clamped to n_vocab.
std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n_vocab, int k, double lse);

}  // namespace g4

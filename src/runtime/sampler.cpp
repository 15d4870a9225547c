#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"

namespace g4 {

namespace {

std::string num(double v) {
  std::string s = std::to_string(v);
  // trim trailing zeros of std::to_string's fixed format
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

// Descending by logit, ties broken by the smaller id: a strict total order, so every partial sort
// gives the same result everywhere.
struct Greater {
  bool operator()(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) const {
    if (a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  }
};

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

void validate_sampling_params(const SamplingParams& p) {
  check(std::isfinite(p.temperature) && p.temperature >= 0.0f,
        "sampling parameter temperature must be a number >= 0 (got " + num(p.temperature) + ")");
  check(p.top_k >= 0, "sampling parameter top_k must be >= 0 (0 turns it off; got " +
                          std::to_string(p.top_k) + ")");
  check(std::isfinite(p.top_p) && p.top_p > 0.0f && p.top_p <= 1.0f,
        "sampling parameter top_p must be in (0, 1] (got " + num(p.top_p) + ")");
  check(std::isfinite(p.min_p) && p.min_p >= 0.0f && p.min_p <= 1.0f,
        "sampling parameter min_p must be in [0, 1] (got " + num(p.min_p) + ")");
  check(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0.0f,
        "sampling parameter repetition_penalty must be > 0 (1 turns it off; got " +
            num(p.repetition_penalty) + ")");
  check(std::isfinite(p.presence_penalty),
        "sampling parameter presence_penalty must be a finite number");
  check(std::isfinite(p.frequency_penalty),
        "sampling parameter frequency_penalty must be a finite number");
  check(p.penalty_window >= 0, "sampling parameter penalty_window must be >= 0 (0 = whole history; got " +
                                   std::to_string(p.penalty_window) + ")");
  for (const auto& [id, bias] : p.logit_bias) {
    check(id >= 0, "sampling parameter logit_bias: token id " + std::to_string(id) + " is negative");
    check(!std::isnan(bias), "sampling parameter logit_bias: the bias of token " +
                                 std::to_string(id) + " is not a number");
  }
}

Sampler::Sampler(SamplingParams params) : params_(std::move(params)), rng_(params_.seed) {
  validate_sampling_params(params_);
}

void Sampler::reseed(uint64_t seed) {
  params_.seed = seed;
  rng_.seed(seed);
}

uint64_t Sampler::random_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ uint64_t(rd());
}

double Sampler::uniform01() {
  // 53 random bits -> [0, 1); independent of the standard library's distributions.
  return double(rng_() >> 11) * (1.0 / 9007199254740992.0);
}

void Sampler::apply_penalties(float* logits, int32_t n_vocab, const std::vector<int32_t>& history) {
  const SamplingParams& p = params_;
  if (p.repetition_penalty == 1.0f && p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f) return;
  if ((int32_t)counts_.size() < n_vocab) counts_.assign(n_vocab, 0);
  touched_.clear();
  size_t begin = 0;
  if (p.penalty_window > 0 && history.size() > size_t(p.penalty_window))
    begin = history.size() - size_t(p.penalty_window);
  for (size_t i = begin; i < history.size(); ++i) {
    int32_t id = history[i];
    if (id < 0 || id >= n_vocab) continue;
    if (counts_[id]++ == 0) touched_.push_back(id);
  }
  for (int32_t id : touched_) {
    float& l = logits[id];
    int32_t c = counts_[id];
    counts_[id] = 0;
    if (l == kNegInf || std::isnan(l)) continue;
    if (p.repetition_penalty != 1.0f) l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    l -= p.presence_penalty + p.frequency_penalty * float(c);
  }
}

int32_t Sampler::sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& history,
                        const std::vector<uint8_t>* allowed_mask) {
  check(n_vocab > 0, "sampler: the vocabulary is empty");
  const SamplingParams& p = params_;

  for (const auto& [id, bias] : p.logit_bias) {
    check(id < n_vocab, "sampling parameter logit_bias: token id " + std::to_string(id) +
                            " is outside the vocabulary (size " + std::to_string(n_vocab) + ")");
    logits[id] += bias;
  }
  if (allowed_mask) {
    check(allowed_mask->size() >= size_t(n_vocab), "sampler: the allowed-token mask has " +
                                                       std::to_string(allowed_mask->size()) +
                                                       " entries, the vocabulary " +
                                                       std::to_string(n_vocab));
    const uint8_t* m = allowed_mask->data();
    for (int32_t i = 0; i < n_vocab; ++i)
      if (!m[i]) logits[i] = kNegInf;
  }
  apply_penalties(logits, n_vocab, history);

  // Argmax (NaN counts as -inf). Also the answer for greedy decoding and +inf logits.
  int32_t best = -1;
  float best_l = kNegInf;
  for (int32_t i = 0; i < n_vocab; ++i) {
    float l = logits[i];
    if (l > best_l) {
      best_l = l;
      best = i;
    }
  }
  if (best < 0) throw Error("sampler: no token is allowed (every logit is -inf or masked out)");
  if (p.greedy || p.temperature == 0.0f || best_l == std::numeric_limits<float>::infinity())
    return best;

  bool sorted = false;
  if (p.top_k > 0 && p.top_k < n_vocab) {
    // One pass with a k-sized min-heap (front = the worst kept candidate).
    const size_t k = size_t(p.top_k);
    cand_.clear();
    cand_.reserve(k);
    Greater better;
    for (int32_t i = 0; i < n_vocab; ++i) {
      const float l = logits[i];
      if (!(l > kNegInf)) continue;
      if (cand_.size() < k) {
        cand_.emplace_back(l, i);
        std::push_heap(cand_.begin(), cand_.end(), better);
      } else if (l > cand_.front().first) {  // ties keep the lower id, already in the heap
        std::pop_heap(cand_.begin(), cand_.end(), better);
        cand_.back() = {l, i};
        std::push_heap(cand_.begin(), cand_.end(), better);
      }
    }
    std::sort(cand_.begin(), cand_.end(), better);
    sorted = true;
  } else {
    // Every token with a finite logit; when min-p is the only filter it can prune right here.
    float threshold = kNegInf;
    if (p.top_p >= 1.0f && p.min_p > 0.0f) threshold = best_l + std::log(p.min_p);
    cand_.clear();
    for (int32_t i = 0; i < n_vocab; ++i)
      if (logits[i] > kNegInf && logits[i] >= threshold) cand_.emplace_back(logits[i], i);
  }

  if (p.top_p < 1.0f && cand_.size() > 1) {
    // Probabilities at temperature 1 over the current candidates.
    const size_t n = cand_.size();
    probs_.resize(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += probs_[i] = std::exp(double(cand_[i].first - best_l));
    const double target = double(p.top_p) * sum;
    if (!sorted) {
      // Bucket the candidates by logit below the best, find the bucket where the cumulative mass
      // crosses top_p, and sort only the candidates above that bucket's lower edge.
      constexpr int kBuckets = 2048;
      constexpr float kRange = 40.0f;  // below best - 40 the mass is < e^-40 per token
      bucket_mass_.assign(kBuckets, 0.0);
      bucket_of_.resize(n);
      for (size_t i = 0; i < n; ++i) {
        int b = int((best_l - cand_[i].first) * (kBuckets / kRange));
        b = std::min(std::max(b, 0), kBuckets - 1);
        bucket_of_[i] = uint16_t(b);
        bucket_mass_[b] += probs_[i];
      }
      double cum = 0;
      int cut_bucket = kBuckets - 1;
      for (int b = 0; b < kBuckets; ++b) {
        cum += bucket_mass_[b];
        if (cum >= target) {
          cut_bucket = b;
          break;
        }
      }
      size_t w = 0;
      for (size_t i = 0; i < n; ++i)
        if (bucket_of_[i] <= cut_bucket) cand_[w++] = cand_[i];
      cand_.resize(w);
      std::sort(cand_.begin(), cand_.end(), Greater());
      sorted = true;
    }
    double cum = 0;
    size_t cut = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += std::exp(double(cand_[i].first - best_l));
      if (cum >= target) {
        cut = i + 1;
        break;
      }
    }
    cand_.resize(std::max<size_t>(cut, 1));
  }

  if (p.min_p > 0.0f && cand_.size() > 1) {
    const float threshold = best_l + std::log(p.min_p);
    size_t w = 0;
    for (size_t i = 0; i < cand_.size(); ++i)
      if (cand_[i].first >= threshold || cand_[i].second == best) cand_[w++] = cand_[i];
    cand_.resize(w);
  }

  if (cand_.size() == 1) return cand_[0].second;

  // Temperature, then draw.
  const float inv_t = 1.0f / p.temperature;
  probs_.resize(cand_.size());
  double sum = 0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    const double e = std::exp((cand_[i].first - best_l) * inv_t);  // float exp: 262144 per step
    probs_[i] = e;
    sum += e;
  }
  const double r = uniform01() * sum;
  double acc = 0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    acc += probs_[i];
    if (r < acc) return cand_[i].second;
  }
  // r landed on the rounding gap at the very end: the last token with non-zero weight
  for (size_t i = cand_.size(); i-- > 0;)
    if (probs_[i] > 0) return cand_[i].second;
  return best;
}

}  // namespace g4

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
constexpr int kDryMaxMatch = 50;   // longer repeats are penalised as this long (bounds work and base^L)
constexpr int kMirostatM = 100;    // tokens used to estimate the Zipf exponent (the paper's m)

bool in_unit(float x) { return std::isfinite(x) && x >= 0.0f && x <= 1.0f; }

}  // namespace

void validate_sampling_params(const SamplingParams& p) {
  check(std::isfinite(p.temperature) && p.temperature >= 0.0f,
        "sampling parameter temperature must be a number >= 0 (got " + num(p.temperature) + ")");
  check(p.top_k >= 0, "sampling parameter top_k must be >= 0 (0 turns it off; got " +
                          std::to_string(p.top_k) + ")");
  check(std::isfinite(p.top_p) && p.top_p > 0.0f && p.top_p <= 1.0f,
        "sampling parameter top_p must be in (0, 1] (got " + num(p.top_p) + ")");
  check(in_unit(p.min_p), "sampling parameter min_p must be in [0, 1] (got " + num(p.min_p) + ")");
  check(in_unit(p.typical_p), "sampling parameter typical_p must be in [0, 1] (1 turns it off; got " + num(p.typical_p) + ")");
  check(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0.0f,
        "sampling parameter repetition_penalty must be > 0 (1 turns it off; got " +
            num(p.repetition_penalty) + ")");
  check(std::isfinite(p.presence_penalty),
        "sampling parameter presence_penalty must be a finite number");
  check(std::isfinite(p.frequency_penalty),
        "sampling parameter frequency_penalty must be a finite number");
  check(p.penalty_window >= 0, "sampling parameter penalty_window must be >= 0 (0 = whole history; got " +
                                   std::to_string(p.penalty_window) + ")");
  check(std::isfinite(p.dry_multiplier) && p.dry_multiplier >= 0.0f,
        "sampling parameter dry_multiplier must be >= 0 (0 turns DRY off; got " + num(p.dry_multiplier) + ")");
  check(std::isfinite(p.dry_base) && p.dry_base >= 1.0f,
        "sampling parameter dry_base must be >= 1 (got " + num(p.dry_base) + ")");
  check(p.dry_allowed_length >= 0, "sampling parameter dry_allowed_length must be >= 0 (got " +
                                       std::to_string(p.dry_allowed_length) + ")");
  check(p.dry_window >= 0, "sampling parameter dry_window must be >= 0 (0 = whole history; got " +
                               std::to_string(p.dry_window) + ")");
  for (const std::string& b : p.dry_sequence_breakers)
    check(!b.empty(), "sampling parameter dry_sequence_breakers: a sequence breaker is empty");
  check(in_unit(p.xtc_probability), "sampling parameter xtc_probability must be in [0, 1] (got " + num(p.xtc_probability) + ")");
  check(in_unit(p.xtc_threshold), "sampling parameter xtc_threshold must be in [0, 1] (got " + num(p.xtc_threshold) + ")");
  check(p.mirostat >= 0 && p.mirostat <= 2,
        "sampling parameter mirostat must be 0 (off), 1 or 2 (got " + std::to_string(p.mirostat) + ")");
  check(std::isfinite(p.mirostat_tau) && p.mirostat_tau >= 0.0f,
        "sampling parameter mirostat_tau must be >= 0 (got " + num(p.mirostat_tau) + ")");
  check(std::isfinite(p.mirostat_eta) && p.mirostat_eta >= 0.0f,
        "sampling parameter mirostat_eta must be >= 0 (got " + num(p.mirostat_eta) + ")");
  for (const auto& [id, bias] : p.logit_bias) {
    check(id >= 0, "sampling parameter logit_bias: token id " + std::to_string(id) + " is negative");
    check(!std::isnan(bias), "sampling parameter logit_bias: the bias of token " +
                                 std::to_string(id) + " is not a number");
  }
}

Sampler::Sampler(SamplingParams params, TokenText token_text)
    : params_(std::move(params)), token_text_(std::move(token_text)), rng_(params_.seed) {
  validate_sampling_params(params_);
  check(params_.dry_multiplier == 0.0f || params_.dry_sequence_breakers.empty() || token_text_,
        "sampling parameter dry_sequence_breakers needs the tokenizer's token texts");
  mu_ = 2.0 * double(params_.mirostat_tau);
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

bool Sampler::is_breaker(int32_t id) {
  if (params_.dry_sequence_breakers.empty()) return false;
  auto it = breaker_.find(id);
  if (it != breaker_.end()) return it->second;
  const std::string text = token_text_(id);
  bool b = false;
  for (const std::string& s : params_.dry_sequence_breakers) b = b || text.find(s) != std::string::npos;
  breaker_.emplace(id, b);
  return b;
}

void Sampler::apply_dry(float* logits, int32_t n_vocab, const std::vector<int32_t>& history) {
  const SamplingParams& p = params_;
  if (p.dry_multiplier == 0.0f) return;
  size_t begin = 0;
  if (p.dry_window > 0 && history.size() > size_t(p.dry_window)) begin = history.size() - size_t(p.dry_window);
  const int32_t* h = history.data() + begin;
  const size_t n = history.size() - begin;
  if (n < 2) return;
  const int32_t last = h[n - 1];
  if (is_breaker(last)) return;
  // Every earlier occurrence i of the last token: the suffix ending at n-1 matches the run ending at i
  // for some length L (>= 1); h[i + 1] is then the token that would repeat the run once more.
  dry_len_.clear();
  for (size_t i = 0; i + 1 < n; ++i) {
    if (h[i] != last) continue;
    const int32_t next = h[i + 1];
    if (is_breaker(next)) continue;
    int len = 1;
    while (len < kDryMaxMatch && size_t(len) <= i) {
      const int32_t a = h[i - size_t(len)];
      const int32_t b = h[n - 1 - size_t(len)];
      if (a != b || is_breaker(b)) break;
      ++len;
    }
    int& best = dry_len_[next];
    best = std::max(best, len);
  }
  for (const auto& [id, len] : dry_len_) {
    if (len < p.dry_allowed_length || id < 0 || id >= n_vocab) continue;
    const double penalty = double(p.dry_multiplier) * std::pow(double(p.dry_base), double(len - p.dry_allowed_length));
    if (logits[id] != kNegInf) logits[id] = float(double(logits[id]) - std::min(penalty, 1e30));
  }
}

void Sampler::sort_candidates() {
  if (!sorted_) std::sort(cand_.begin(), cand_.end(), Greater());
  sorted_ = true;
}

void Sampler::top_k_filter(const float* logits, int32_t n_vocab, int k_in) {
  // One pass with a k-sized min-heap (front = the worst kept candidate).
  const size_t k = size_t(k_in);
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
  sorted_ = true;
}

void Sampler::typical_filter() {
  const size_t n = cand_.size();
  float mx = kNegInf;
  for (auto& c : cand_) mx = std::max(mx, c.first);
  probs_.resize(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += probs_[i] = std::exp(double(cand_[i].first - mx));
  double entropy = 0;
  for (size_t i = 0; i < n; ++i) {
    probs_[i] /= sum;
    if (probs_[i] > 0) entropy -= probs_[i] * std::log(probs_[i]);
  }
  // Order by |surprise - entropy|, the most typical first (ties: by logit, then id). Only the tokens
  // up to the score bucket where the kept mass reaches typical_p need sorting.
  constexpr int kBuckets = 4096;
  constexpr double kRange = 50.0;
  bucket_mass_.assign(kBuckets, 0.0);
  std::vector<std::pair<double, size_t>> order(n);
  for (size_t i = 0; i < n; ++i) {
    const double surprise = probs_[i] > 0 ? -std::log(probs_[i]) : std::numeric_limits<double>::infinity();
    order[i] = {std::fabs(surprise - entropy), i};
    bucket_mass_[size_t(std::min(order[i].first, kRange) * ((kBuckets - 1) / kRange))] += probs_[i];
  }
  double mass = 0;
  double cut_score = kRange * 2;
  for (int b = 0; b < kBuckets; ++b) {
    mass += bucket_mass_[b];
    if (mass >= double(params_.typical_p)) {
      cut_score = (b + 1) * (kRange / (kBuckets - 1));
      break;
    }
  }
  if (cut_score < kRange)
    order.erase(std::remove_if(order.begin(), order.end(), [&](const auto& o) { return o.first > cut_score; }), order.end());
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return Greater()(cand_[a.second], cand_[b.second]);
  });
  double cum = 0;
  size_t keep = order.size();
  for (size_t r = 0; r < order.size(); ++r) {
    cum += probs_[order[r].second];
    if (cum >= double(params_.typical_p)) {
      keep = r + 1;
      break;
    }
  }
  std::vector<std::pair<float, int32_t>> kept;
  kept.reserve(keep);
  for (size_t r = 0; r < keep; ++r) kept.push_back(cand_[order[r].second]);
  cand_ = std::move(kept);
  sorted_ = false;
  sort_candidates();
}

void Sampler::top_p_filter(float ref) {
  // Probabilities at temperature 1 over the current candidates (`ref` >= every candidate's logit).
  const size_t n = cand_.size();
  probs_.resize(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += probs_[i] = std::exp(double(cand_[i].first - ref));
  const double target = double(params_.top_p) * sum;
  if (!sorted_) {
    // Bucket the candidates by logit below the best, find the bucket where the cumulative mass
    // crosses top_p, and sort only the candidates above that bucket's lower edge.
    constexpr int kBuckets = 2048;
    constexpr float kRange = 40.0f;  // below best - 40 the mass is < e^-40 per token
    bucket_mass_.assign(kBuckets, 0.0);
    bucket_of_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      int b = int((ref - cand_[i].first) * (kBuckets / kRange));
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
    sort_candidates();
  }
  double cum = 0;
  size_t cut = cand_.size();
  for (size_t i = 0; i < cand_.size(); ++i) {
    cum += std::exp(double(cand_[i].first - ref));
    if (cum >= target) {
      cut = i + 1;
      break;
    }
  }
  cand_.resize(std::max<size_t>(cut, 1));
}

void Sampler::min_p_filter() {
  // Relative to the most likely candidate still in play (typical sampling may have dropped the argmax).
  auto top = std::min_element(cand_.begin(), cand_.end(), Greater());
  const std::pair<float, int32_t> best = *top;
  const float threshold = best.first + std::log(params_.min_p);
  size_t w = 0;
  for (size_t i = 0; i < cand_.size(); ++i)
    if (cand_[i].first >= threshold || cand_[i] == best) cand_[w++] = cand_[i];
  cand_.resize(w);
}

void Sampler::xtc_filter() {
  if (uniform01() >= double(params_.xtc_probability)) return;
  sort_candidates();
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) sum += std::exp(double(c.first - mx));
  // Candidates at or above the threshold form a prefix of the sorted list.
  size_t above = 0;
  while (above < cand_.size() && std::exp(double(cand_[above].first - mx)) / sum >= double(params_.xtc_threshold)) ++above;
  if (above >= 2) cand_.erase(cand_.begin(), cand_.begin() + long(above - 1));
}

int32_t Sampler::draw(float temperature) {
  // Temperature, then draw.
  float mx = kNegInf;
  for (auto& c : cand_) mx = std::max(mx, c.first);
  const float inv_t = 1.0f / temperature;
  probs_.resize(cand_.size());
  double sum = 0;
  for (size_t i = 0; i < cand_.size(); ++i) {
    const double e = std::exp((cand_[i].first - mx) * inv_t);  // float exp: 262144 per step
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
  return cand_[0].second;
}

int32_t Sampler::mirostat_sample(const float* logits, int32_t n_vocab, float best_l) {
  const SamplingParams& p = params_;
  const double inv_t = 1.0 / double(p.temperature);
  // Probabilities after temperature over every allowed token.
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i)
    if (logits[i] > kNegInf) sum += std::exp((double(logits[i]) - best_l) * inv_t);
  auto prob = [&](float l) { return std::exp((double(l) - best_l) * inv_t) / sum; };
  cand_.clear();
  sorted_ = false;
  if (p.mirostat == 2) {
    // Keep surprise -log2 p <= mu, i.e. p >= 2^-mu; at least the most likely token.
    const double min_p = std::exp2(-mu_);
    for (int32_t i = 0; i < n_vocab; ++i)
      if (logits[i] > kNegInf && prob(logits[i]) >= min_p) cand_.emplace_back(logits[i], i);
    if (cand_.empty()) {
      for (int32_t i = 0; i < n_vocab; ++i)
        if (logits[i] == best_l) {
          cand_.emplace_back(logits[i], i);
          break;
        }
    }
    sort_candidates();
  } else {
    // Estimate the Zipf exponent from the most likely tokens, then truncate to the k it implies.
    const size_t m = std::min<size_t>(kMirostatM, size_t(n_vocab));
    top_k_filter(logits, n_vocab, int(m));
    double num_ts = 0, den_t2 = 0;
    for (size_t i = 0; i + 1 < cand_.size(); ++i) {
      const double t = std::log(double(i + 2) / double(i + 1));
      const double b = (double(cand_[i].first) - double(cand_[i + 1].first)) * inv_t;  // ln(p_i / p_{i+1})
      num_ts += t * b;
      den_t2 += t * t;
    }
    const double s_hat = den_t2 > 0 ? num_ts / den_t2 : 0.0;
    const double eps = s_hat - 1.0;
    const double two_mu = std::exp2(mu_);
    const double base = std::fabs(eps) < 1e-9 ? two_mu / std::log(double(n_vocab))
                                              : eps * two_mu / (1.0 - std::pow(double(n_vocab), -eps));
    double k = std::pow(base, 1.0 / s_hat);
    if (std::isnan(k) || k < 1) k = 1;
    if (k > double(n_vocab)) k = double(n_vocab);
    const int ki = int(k);
    if (size_t(ki) != cand_.size()) top_k_filter(logits, n_vocab, ki);
  }
  // Draw among the kept tokens, renormalised.
  double kept = 0;
  for (auto& c : cand_) kept += prob(c.first);
  const double r = uniform01() * kept;
  double acc = 0;
  size_t pick = cand_.size() - 1;
  for (size_t i = 0; i < cand_.size(); ++i) {
    acc += prob(cand_[i].first);
    if (r < acc) {
      pick = i;
      break;
    }
  }
  const double surprise = -std::log2(prob(cand_[pick].first) / kept);
  mu_ -= double(p.mirostat_eta) * (surprise - double(p.mirostat_tau));
  return cand_[pick].second;
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
  apply_dry(logits, n_vocab, history);

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
  if (p.mirostat != 0) return mirostat_sample(logits, n_vocab, best_l);

  sorted_ = false;
  if (p.top_k > 0 && p.top_k < n_vocab) {
    top_k_filter(logits, n_vocab, p.top_k);
  } else {
    // Every token with a finite logit; when min-p is the only filter it can prune right here.
    float threshold = kNegInf;
    if (p.top_p >= 1.0f && p.min_p > 0.0f && p.typical_p >= 1.0f) threshold = best_l + std::log(p.min_p);
    cand_.clear();
    for (int32_t i = 0; i < n_vocab; ++i)
      if (logits[i] > kNegInf && logits[i] >= threshold) cand_.emplace_back(logits[i], i);
  }
  if (p.typical_p < 1.0f && cand_.size() > 1) typical_filter();
  if (p.top_p < 1.0f && cand_.size() > 1) top_p_filter(best_l);
  if (p.min_p > 0.0f && cand_.size() > 1) min_p_filter();
  if (p.xtc_probability > 0.0f && cand_.size() > 1) xtc_filter();
  if (cand_.size() == 1) return cand_[0].second;
  return draw(p.temperature);
}

double log_sum_exp(const float* logits, int32_t n_vocab) {
  float mx = kNegInf;
  for (int32_t i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  if (mx == kNegInf) return -std::numeric_limits<double>::infinity();
  double sum = 0;
  for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(double(logits[i]) - double(mx));
  return double(mx) + std::log(sum);
}

std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n_vocab, int k, double lse) {
  std::vector<std::pair<float, int32_t>> heap;
  const size_t kk = size_t(std::clamp(k, 0, std::max(n_vocab, 0)));
  Greater better;
  for (int32_t i = 0; i < n_vocab && kk > 0; ++i) {
    const std::pair<float, int32_t> c{logits[i], i};
    if (heap.size() < kk) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(c, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = c;
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  std::vector<TokenLogprob> out;
  out.reserve(heap.size());
  for (auto& [l, id] : heap) out.push_back({id, float(double(l) - lse)});
  return out;
}

}  // namespace g4

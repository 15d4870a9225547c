#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>

#include "core/error.h"

namespace g4 {
namespace {


std::vector<float> random_logits(int n, uint64_t seed, float scale = 3.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// logits whose softmax is exactly `probs`
std::vector<float> logits_for(const std::vector<double>& probs) {
  std::vector<float> v;
  for (double p : probs) v.push_back(float(std::log(p)));
  return v;
}

int32_t draw(Sampler& s, const std::vector<float>& logits, const std::vector<int32_t>& history = {},
             const std::vector<uint8_t>* mask = nullptr) {
  std::vector<float> l = logits;
  return s.sample(l.data(), int32_t(l.size()), history, mask);
}

std::map<int32_t, int> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, int> h;
  for (int i = 0; i < n; ++i) ++h[draw(s, logits)];
  return h;
}

TEST(Sampler, GreedyIsArgmax) {
  auto logits = random_logits(1000, 1);
  int32_t arg = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  SamplingParams p;
  p.greedy = true;
  Sampler s(p);
  EXPECT_EQ(draw(s, logits), arg);
  SamplingParams t0;
  t0.temperature = 0;
  Sampler s0(t0);
  EXPECT_EQ(draw(s0, logits), arg);
}

TEST(Sampler, GreedyTieTakesLowestId) {
  std::vector<float> logits = {0.0f, 5.0f, 5.0f, 1.0f};
  SamplingParams p;
  p.greedy = true;
  Sampler s(p);
  EXPECT_EQ(draw(s, logits), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  auto logits = random_logits(5000, 2, 1.0f);
  SamplingParams p;
  p.seed = 1234;
  p.top_k = 50;
  p.top_p = 0.9f;
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(draw(a, logits));
    tb.push_back(draw(b, logits));
  }
  EXPECT_EQ(ta, tb);
  p.seed = 1235;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 200; ++i) tc.push_back(draw(c, logits));
  EXPECT_NE(ta, tc);
  // reseed restarts the sequence
  a.reseed(1234);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(draw(a, logits), ta[i]);
}

TEST(Sampler, SeedSequenceIsStableAcrossBuilds) {
  // mt19937_64 and our own [0,1) conversion are fully specified: these values must never change.
  std::vector<float> logits(16, 0.0f);  // uniform over 16 tokens
  SamplingParams p;
  p.seed = 42;
  Sampler s(p);
  std::vector<int32_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(draw(s, logits));
  std::mt19937_64 ref(42);
  std::vector<int32_t> want;
  for (int i = 0; i < 8; ++i) want.push_back(int32_t(double(ref() >> 11) * (1.0 / 9007199254740992.0) * 16));
  EXPECT_EQ(got, want);
}

TEST(Sampler, TemperatureOneMatchesSoftmax) {
  auto logits = logits_for({0.5, 0.3, 0.2});
  SamplingParams p;
  p.seed = 7;
  Sampler s(p);
  const int n = 20000;
  auto h = histogram(s, logits, n);
  EXPECT_NEAR(h[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(h[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(h[2] / double(n), 0.2, 0.02);
}

TEST(Sampler, HighTemperatureFlattens) {
  auto logits = logits_for({0.7, 0.2, 0.1});
  SamplingParams p;
  p.seed = 8;
  p.temperature = 100.0f;
  Sampler s(p);
  auto h = histogram(s, logits, 9000);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(h[i] / 9000.0, 1.0 / 3, 0.03);
}

TEST(Sampler, TopKRestrictsSupport) {
  auto logits = random_logits(2000, 3, 0.3f);  // fairly flat
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  std::set<int32_t> top(order.begin(), order.begin() + 5);
  SamplingParams p;
  p.seed = 9;
  p.top_k = 5;
  Sampler s(p);
  auto h = histogram(s, logits, 5000);
  for (auto& [id, c] : h) EXPECT_TRUE(top.count(id)) << id;
  EXPECT_EQ(h.size(), 5u);
}

TEST(Sampler, TopPRestrictsSupport) {
  auto logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplingParams p;
  p.seed = 10;
  p.top_p = 0.75f;
  Sampler s(p);
  auto h = histogram(s, logits, 5000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(h[0] / 5000.0, 0.5 / 0.8, 0.03);
  p.top_p = 0.9f;
  Sampler s2(p);
  auto h2 = histogram(s2, logits, 5000);
  EXPECT_EQ(h2.size(), 3u);
  EXPECT_EQ(h2.count(3), 0u);
}

TEST(Sampler, TopPOverLargeFlatVocabulary) {
  // Needs far more than the first partial-sort window: equal logits, ties broken by id.
  std::vector<float> logits(262144, 0.0f);
  SamplingParams p;
  p.seed = 11;
  p.top_p = 0.5f;
  Sampler s(p);
  int32_t mx = 0;
  for (int i = 0; i < 100; ++i) mx = std::max(mx, draw(s, logits));
  EXPECT_LE(mx, 131072);
  EXPECT_GT(mx, 90000);
}

TEST(Sampler, MinPRestrictsSupport) {
  auto logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplingParams p;
  p.seed = 12;
  p.min_p = 0.2f;  // keeps p >= 0.1
  Sampler s(p);
  auto h = histogram(s, logits, 5000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(3), 0u);
  p.min_p = 0.5f;  // keeps p >= 0.25
  Sampler s2(p);
  EXPECT_EQ(histogram(s2, logits, 3000).size(), 2u);
}

TEST(Sampler, FiltersCombine) {
  auto logits = random_logits(3000, 13, 1.0f);
  SamplingParams p;
  p.seed = 14;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.temperature = 0.7f;
  Sampler s(p);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  std::set<int32_t> top(order.begin(), order.begin() + 40);
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(top.count(draw(s, logits)));
}

TEST(Sampler, RepetitionPenaltyChangesArgmax) {
  std::vector<float> logits = {2.0f, 1.9f, -1.0f, -1.2f};
  SamplingParams p;
  p.greedy = true;
  p.repetition_penalty = 1.2f;
  Sampler s(p);
  EXPECT_EQ(draw(s, logits, {}), 0);
  EXPECT_EQ(draw(s, logits, {0}), 1);  // 2.0 / 1.2 = 1.67 < 1.9
  // negative logits are multiplied: -1.0 * 1.2 = -1.2, and the tie goes to the lower id
  std::vector<float> neg = {-1.0f, -1.1f};
  EXPECT_EQ(draw(s, neg, {0}), 1);
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  std::vector<float> logits = {2.0f, 1.9f};
  SamplingParams p;
  p.greedy = true;
  p.presence_penalty = 0.5f;
  Sampler s(p);
  EXPECT_EQ(draw(s, logits, {0}), 1);
  EXPECT_EQ(draw(s, logits, {1}), 0);
  SamplingParams f;
  f.greedy = true;
  f.frequency_penalty = 0.05f;
  Sampler sf(f);
  EXPECT_EQ(draw(sf, logits, {0}), 0);        // 1.95 > 1.9
  EXPECT_EQ(draw(sf, logits, {0, 0, 0}), 1);  // 1.85 < 1.9
  // a window that no longer contains token 0
  f.penalty_window = 1;
  Sampler sw(f);
  EXPECT_EQ(draw(sw, logits, {0, 0, 0, 1}), 0);
  // penalties scratch is reset between calls
  EXPECT_EQ(draw(sf, logits, {}), 0);
}

TEST(Sampler, LogitBiasAndMask) {
  std::vector<float> logits = {3.0f, 2.0f, 1.0f};
  SamplingParams p;
  p.greedy = true;
  p.logit_bias[0] = -std::numeric_limits<float>::infinity();
  Sampler s(p);
  EXPECT_EQ(draw(s, logits), 1);
  p.logit_bias[2] = 5.0f;
  Sampler s2(p);
  EXPECT_EQ(draw(s2, logits), 2);

  SamplingParams q;
  q.seed = 3;
  Sampler m(q);
  std::vector<uint8_t> mask = {0, 1, 0};
  for (int i = 0; i < 100; ++i) EXPECT_EQ(draw(m, logits, {}, &mask), 1);
  std::vector<uint8_t> none = {0, 0, 0};
  EXPECT_THROW(draw(m, logits, {}, &none), Error);

  SamplingParams bad;
  bad.logit_bias[7] = 1.0f;
  Sampler sb(bad);
  try {
    draw(sb, logits);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("logit_bias"), std::string::npos);
  }
}

void expect_invalid(const SamplingParams& p, const std::string& name) {
  try {
    Sampler s(p);
    FAIL() << "accepted invalid " << name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(Sampler, InvalidParams) {
  SamplingParams p;
  p.temperature = -0.5f;
  expect_invalid(p, "temperature");
  p = {};
  p.temperature = std::nanf("");
  expect_invalid(p, "temperature");
  p = {};
  p.top_p = 0.0f;
  expect_invalid(p, "top_p");
  p.top_p = 1.5f;
  expect_invalid(p, "top_p");
  p = {};
  p.top_k = -1;
  expect_invalid(p, "top_k");
  p = {};
  p.min_p = 1.5f;
  expect_invalid(p, "min_p");
  p = {};
  p.repetition_penalty = 0.0f;
  expect_invalid(p, "repetition_penalty");
  p = {};
  p.presence_penalty = INFINITY;
  expect_invalid(p, "presence_penalty");
  p = {};
  p.frequency_penalty = std::nanf("");
  expect_invalid(p, "frequency_penalty");
  p = {};
  p.logit_bias[-3] = 1.0f;
  expect_invalid(p, "logit_bias");
}

// ---- llama.cpp's sampling extensions; every expectation below is worked out by hand ----

double share(const std::map<int32_t, int>& h, int32_t id, int n) {
  auto it = h.find(id);
  return it == h.end() ? 0.0 : it->second / double(n);
}

TEST(Sampler, TypicalKeepsTheMostTypicalTokens) {
  // p = {0.4, 0.3, 0.2, 0.1}: entropy H = 1.2799 nats; surprises -ln p = 0.916, 1.204, 1.609, 2.303;
  // |surprise - H| = 0.364, 0.076, 0.330, 1.023, so the typical order is 1, 2, 0, 3.
  auto logits = logits_for({0.4, 0.3, 0.2, 0.1});
  SamplingParams p;
  p.seed = 21;
  p.typical_p = 0.25f;  // token 1 alone has 0.3 >= 0.25
  Sampler one(p);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(draw(one, logits), 1);
  p.typical_p = 0.45f;  // 0.3 + 0.2: tokens 1 and 2, renormalised to 0.6 / 0.4
  Sampler two(p);
  auto h = histogram(two, logits, 6000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(share(h, 1, 6000), 0.6, 0.03);
  EXPECT_NEAR(share(h, 2, 6000), 0.4, 0.03);
  p.typical_p = 0.85f;  // 0.3 + 0.2 + 0.4 = 0.9: every token but 3, although 3 is not the least likely
  Sampler three(p);
  auto h3 = histogram(three, logits, 6000);
  EXPECT_EQ(h3.size(), 3u);
  EXPECT_EQ(h3.count(3), 0u);
  EXPECT_NEAR(share(h3, 0, 6000), 0.4 / 0.9, 0.03);
}

TEST(Sampler, TypicalCanDropTheMostLikelyToken) {
  // p = {0.4, 0.12 x 5}: H = 0.4 * 0.916 + 0.6 * 2.120 = 1.639; |surprise - H| is 0.723 for token 0
  // but 0.481 for the others, so typical_p 0.3 keeps three 0.12 tokens (ids 1, 2, 3: ties go to the
  // lower id) and drops the argmax. min-p then measures against the best token left (0.12), not 0.4.
  auto logits = logits_for({0.4, 0.12, 0.12, 0.12, 0.12, 0.12});
  SamplingParams p;
  p.seed = 22;
  p.typical_p = 0.3f;
  p.min_p = 0.5f;
  Sampler s(p);
  auto h = histogram(s, logits, 6000);
  EXPECT_EQ(h.size(), 3u);
  for (int32_t id : {1, 2, 3}) EXPECT_NEAR(share(h, id, 6000), 1.0 / 3, 0.03) << id;
}

TEST(Sampler, XtcRemovesTheTopChoicesButTheLast) {
  // p = {0.5, 0.3, 0.15, 0.05}, threshold 0.1: tokens 0, 1, 2 are at or above it; all but the least
  // likely of them (token 2) go, leaving {0.15, 0.05} -> 0.75 / 0.25.
  auto logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplingParams p;
  p.seed = 23;
  p.xtc_probability = 1.0f;
  p.xtc_threshold = 0.1f;
  Sampler s(p);
  auto h = histogram(s, logits, 6000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(share(h, 2, 6000), 0.75, 0.03);
  EXPECT_NEAR(share(h, 3, 6000), 0.25, 0.03);
  // Only one token above 0.4: nothing is removed, the plain softmax remains.
  p.xtc_threshold = 0.4f;
  Sampler one(p);
  auto h1 = histogram(one, logits, 6000);
  EXPECT_NEAR(share(h1, 0, 6000), 0.5, 0.03);
  // Applied half the time: token 0 keeps half its share.
  p.xtc_threshold = 0.1f;
  p.xtc_probability = 0.5f;
  Sampler half(p);
  auto hh = histogram(half, logits, 8000);
  EXPECT_NEAR(share(hh, 0, 8000), 0.25, 0.03);
  EXPECT_NEAR(share(hh, 2, 8000), 0.5 * 0.15 + 0.5 * 0.75, 0.03);
}

std::string test_token_text(int32_t id) { return id == 2 ? ":" : "t" + std::to_string(id); }

TEST(Sampler, DryPenalisesTheTokenThatExtendsARepeat) {
  // History 1 2 3 4 1 2 3: the suffix "1 2 3" occurred before (length 3), followed by 4. Token 4 loses
  // multiplier * base^(3 - allowed_length).
  const std::vector<int32_t> history = {1, 2, 3, 4, 1, 2, 3};
  std::vector<float> base(10, -10.0f);
  base[4] = 1.0f;
  base[5] = 0.0f;
  SamplingParams p;
  p.greedy = true;
  p.dry_multiplier = 0.8f;
  p.dry_base = 1.75f;
  p.dry_allowed_length = 2;
  p.dry_sequence_breakers = {};
  Sampler s(p);
  std::vector<float> l = base;
  EXPECT_EQ(s.sample(l.data(), 10, history), 5);
  EXPECT_NEAR(l[4], 1.0f - 0.8f * 1.75f, 1e-5);  // 1 - 1.4
  EXPECT_EQ(l[5], 0.0f);
  EXPECT_EQ(l[1], -10.0f);
  p.dry_allowed_length = 3;  // 1 - 0.8 * 1.75^0 = 0.2 > 0: token 4 stays the best
  Sampler s3(p);
  l = base;
  EXPECT_EQ(s3.sample(l.data(), 10, history), 4);
  EXPECT_NEAR(l[4], 0.2f, 1e-5);
  p.dry_allowed_length = 4;  // a repeat of 3 is allowed
  Sampler s4(p);
  l = base;
  EXPECT_EQ(s4.sample(l.data(), 10, history), 4);
  EXPECT_EQ(l[4], 1.0f);
  // A window of the last 3 tokens (1 2 3) holds no earlier occurrence.
  p.dry_allowed_length = 2;
  p.dry_window = 3;
  Sampler w(p);
  l = base;
  EXPECT_EQ(w.sample(l.data(), 10, history), 4);
}

TEST(Sampler, DrySequenceBreakersStopTheMatch) {
  const std::vector<int32_t> history = {1, 2, 3, 4, 1, 2, 3};
  std::vector<float> base(10, -10.0f);
  base[4] = 1.0f;
  base[5] = 0.0f;
  SamplingParams p;
  p.greedy = true;
  p.dry_multiplier = 0.8f;
  p.dry_allowed_length = 1;
  p.dry_sequence_breakers = {":"};  // token 2's text is ":"
  // The match "3" cannot grow past the breaker 2: length 1, penalty 0.8 * 1.75^0.
  Sampler s(p, test_token_text);
  std::vector<float> l = base;
  s.sample(l.data(), 10, history);
  EXPECT_NEAR(l[4], 0.2f, 1e-5);
  // Without the breaker the match is 3 long: 0.8 * 1.75^2 = 2.45.
  p.dry_sequence_breakers = {"#"};
  Sampler nb(p, test_token_text);
  l = base;
  nb.sample(l.data(), 10, history);
  EXPECT_NEAR(l[4], 1.0f - 2.45f, 1e-5);
  // A history ending in a breaker is never penalised.
  p.dry_sequence_breakers = {":"};
  Sampler end(p, test_token_text);
  l = base;
  end.sample(l.data(), 10, {1, 2, 4, 1, 2});
  EXPECT_EQ(l[4], 1.0f);
  // Breakers need the token texts.
  EXPECT_THROW({ Sampler needs_text(p); }, Error);
}

TEST(Sampler, MirostatTwoKeepsTokensBelowMu) {
  // tau 1 -> mu 2 bits: keep p >= 2^-2 = 0.25, i.e. tokens 0 and 1, renormalised to 0.625 / 0.375.
  auto logits = logits_for({0.5, 0.3, 0.15, 0.05});
  SamplingParams p;
  p.mirostat = 2;
  p.mirostat_tau = 1.0f;
  p.mirostat_eta = 0.1f;
  std::map<int32_t, int> h;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    p.seed = uint64_t(1000 + i);
    Sampler s(p);
    EXPECT_DOUBLE_EQ(s.mirostat_mu(), 2.0);
    int32_t t = draw(s, logits);
    ++h[t];
    // mu -= eta * (surprise - tau), surprise = -log2 of the renormalised probability.
    double q = t == 0 ? 0.625 : 0.375;
    ASSERT_NEAR(s.mirostat_mu(), 2.0 - 0.1 * (-std::log2(q) - 1.0), 1e-6) << t;
  }
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(share(h, 0, n), 0.625, 0.03);
}

TEST(Sampler, MirostatOneTruncatesToTheZipfK) {
  // p_i proportional to 1/(i+1)^2 (Zipf, s = 2): the estimate is s = 2, e = 1, and with tau 3 (mu 6)
  // k = (1 * 2^6 / (1 - 1000^-1))^(1/2) = 8.004 -> the 8 most likely tokens.
  const int V = 1000;
  std::vector<float> logits(V);
  for (int i = 0; i < V; ++i) logits[i] = float(-2.0 * std::log(double(i + 1)));
  double top8 = 0;
  for (int i = 1; i <= 8; ++i) top8 += 1.0 / (i * i);
  SamplingParams p;
  p.mirostat = 1;
  p.mirostat_tau = 3.0f;
  p.mirostat_eta = 0.2f;
  std::map<int32_t, int> h;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    p.seed = uint64_t(5000 + i);
    Sampler s(p);
    int32_t t = draw(s, logits);
    ++h[t];
    double q = (1.0 / ((t + 1.0) * (t + 1.0))) / top8;
    ASSERT_NEAR(s.mirostat_mu(), 6.0 - 0.2 * (-std::log2(q) - 3.0), 1e-4) << t;
  }
  EXPECT_EQ(h.rbegin()->first, 7);  // token 7 (p' = 0.0102) appears, token 8 never
  EXPECT_NEAR(share(h, 0, n), 1.0 / top8, 0.03);
  // Temperature 0 stays greedy.
  p.temperature = 0;
  Sampler g(p);
  EXPECT_EQ(draw(g, logits), 0);
}

TEST(Sampler, LogprobsAreTheModelsLogSoftmax) {
  // p = {0.5, 0.25, 0.125, 0.125}, shifted by 3: lse = 3, log p = -0.693, -1.386, -2.079, -2.079.
  auto logits = logits_for({0.5, 0.25, 0.125, 0.125});
  for (float& l : logits) l += 3.0f;
  double lse = log_sum_exp(logits.data(), 4);
  EXPECT_NEAR(lse, 3.0, 1e-6);
  auto top = top_logprobs(logits.data(), 4, 3, lse);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 0);
  EXPECT_NEAR(top[0].logprob, std::log(0.5), 1e-6);
  EXPECT_EQ(top[1].id, 1);
  EXPECT_NEAR(top[1].logprob, std::log(0.25), 1e-6);
  EXPECT_EQ(top[2].id, 2);  // tie with token 3: the lower id
  EXPECT_NEAR(top[2].logprob, std::log(0.125), 1e-6);
  EXPECT_EQ(top_logprobs(logits.data(), 4, 50, lse).size(), 4u);
  EXPECT_TRUE(top_logprobs(logits.data(), 4, 0, lse).empty());
  std::vector<float> masked = {0.0f, -std::numeric_limits<float>::infinity()};
  EXPECT_NEAR(log_sum_exp(masked.data(), 2), 0.0, 1e-9);
}

TEST(Sampler, InvalidExtensionParams) {
  SamplingParams p;
  p.typical_p = 1.5f;
  expect_invalid(p, "typical_p");
  p = {};
  p.dry_multiplier = -1;
  expect_invalid(p, "dry_multiplier");
  p = {};
  p.dry_base = 0.5f;
  expect_invalid(p, "dry_base");
  p = {};
  p.dry_allowed_length = -1;
  expect_invalid(p, "dry_allowed_length");
  p = {};
  p.dry_sequence_breakers = {"a", ""};
  expect_invalid(p, "dry_sequence_breakers");
  p = {};
  p.xtc_probability = 2;
  expect_invalid(p, "xtc_probability");
  p = {};
  p.xtc_threshold = -0.1f;
  expect_invalid(p, "xtc_threshold");
  p = {};
  p.mirostat = 3;
  expect_invalid(p, "mirostat");
  p = {};
  p.mirostat_tau = -1;
  expect_invalid(p, "mirostat_tau");
  p = {};
  p.mirostat_eta = NAN;
  expect_invalid(p, "mirostat_eta");
}

TEST(Sampler, SpeedAtGemmaVocab) {
  const int V = 262144;
  auto base = random_logits(V, 20, 2.0f);
  std::vector<int32_t> history(2000);
  for (size_t i = 0; i < history.size(); ++i) history[i] = int32_t((i * 7919) % V);
  struct Case {
    const char* name;
    SamplingParams p;
  };
  std::vector<Case> cases(5);  // grown below
  cases[0].name = "greedy";
  cases[0].p.greedy = true;
  cases[1].name = "gemma default (top_k 64, top_p 0.95)";
  cases[1].p.top_k = 64;
  cases[1].p.top_p = 0.95f;
  cases[2].name = "top_p 0.95 only";
  cases[2].p.top_p = 0.95f;
  cases[3].name = "full softmax, penalties";
  cases[3].p.repetition_penalty = 1.1f;
  cases[3].p.frequency_penalty = 0.1f;
  cases[4].name = "min_p 0.05";
  cases[4].p.min_p = 0.05f;
  cases.resize(8);
  cases[5].name = "typical_p 0.95";
  cases[5].p.typical_p = 0.95f;
  cases[6].name = "DRY over 2000 ids, mirostat 2";
  cases[6].p.dry_multiplier = 0.8f;
  cases[6].p.dry_sequence_breakers = {};
  cases[6].p.mirostat = 2;
  cases[7].name = "mirostat 1";
  cases[7].p.mirostat = 1;
  std::vector<float> l(V);
  for (auto& c : cases) {
    Sampler s(c.p);
    const int iters = 30;
    double total = 0;
    for (int i = 0; i < iters; ++i) {
      l = base;
      auto t0 = std::chrono::steady_clock::now();
      s.sample(l.data(), V, history);
      total += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
    std::printf("sample() V=262144 %-40s %.3f ms\n", c.name, total / iters);
    // Reported, not asserted: tests never fail on timing.
  }
}

}  // namespace
}  // namespace g4

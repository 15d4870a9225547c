// Speculative decoding: greedy output with drafts equals greedy output without them (whatever the drafts:
// all right, partly right, all wrong), through the sliding rings' roll-back on prompts and answers far
// longer than the window; sampling with drafts follows the target's exact distribution (chi-square
// against the distribution computed from the target's logits).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/thread_pool.h"
#include "model/drafter.h"
#include "runtime/generator.h"
#include "runtime/speculative.h"
#include "test_util.h"

namespace g4 {
namespace {

// Tiny models: one thread is fastest, and keeps the suite quick on a busy machine.
[[maybe_unused]] const bool kOneThread = (ThreadPool::set_default_threads(1), true);

const std::string kTarget = "g4-e4b-assistant";  // a KV-sharing target with sliding window 8

std::vector<int32_t> prompt_of(int n, int seed) {
  std::mt19937 rng{uint32_t(seed)};
  std::vector<int32_t> p{2};
  while (int(p.size()) < n) p.push_back(int32_t(3 + rng() % 500));
  return p;
}

// Proposes the reference continuation, each token replaced by a wrong one with probability `wrong`.
class OracleSource : public DraftSource {
 public:
  OracleSource(std::vector<int32_t> prompt, std::vector<int32_t> reference, double wrong, uint32_t seed)
      : prompt_(std::move(prompt)), ref_(std::move(reference)), wrong_(wrong), rng_(seed) {}
  std::vector<int32_t> propose(const KVCache& cache, const std::vector<int32_t>& history, const std::vector<float>& h_prev,
                               int k) override {
    EXPECT_EQ(int64_t(history.size()), cache.n_past() + 1) << "the last token must not be in the cache yet";
    const size_t at = history.size() - prompt_.size();  // generated so far
    std::vector<int32_t> out;
    for (int i = 0; i < k && at + size_t(i) < ref_.size(); ++i) {
      int32_t t = ref_[at + size_t(i)];
      if (std::uniform_real_distribution<double>(0, 1)(rng_) < wrong_) t = (t + 1) % 512;
      out.push_back(t);
    }
    return out;
  }

 private:
  std::vector<int32_t> prompt_, ref_;
  double wrong_;
  std::mt19937 rng_;
};

GenerationResult run(const Model& m, const std::vector<int32_t>& prompt, int n, KVTypes kv, int chunk, DraftSource* drafts,
                     int draft_max, SamplingParams sampling = {}) {
  GenerationRequest req;
  req.prompt = prompt;
  req.max_tokens = n;
  req.ignore_eos = true;
  req.sampling = sampling;
  req.drafts = drafts;
  req.draft_max = draft_max;
  auto cache = m.new_cache(int64_t(prompt.size()) + n, chunk, kv);
  return generate(m, *cache, req);
}

SamplingParams greedy() {
  SamplingParams s;
  s.greedy = true;
  return s;
}

TEST(Speculative, GreedyOutputIsIdenticalWithAnyDrafts) {
  auto target = load_model(test::fixture(kTarget) + "/target");
  // 40 prompt tokens and 150 answer tokens against a window of 8; chunk 8 keeps the rings small (15
  // slots), so every roll-back happens on a wrapped ring.
  const std::vector<int32_t> prompt = prompt_of(40, 1);
  const int n = 150, chunk = 8;
  for (KVTypes kv : {KVTypes(KVType::F32), KVTypes(KVType::F16)}) {
    const std::vector<int32_t> ref = run(*target, prompt, n, kv, chunk, nullptr, 0, greedy()).tokens;
    ASSERT_EQ(int(ref.size()), n);
    for (double wrong : {0.0, 0.25, 1.0})
      for (int draft_max : {1, 3, 6}) {
        OracleSource oracle(prompt, ref, wrong, 7);
        GenerationResult r = run(*target, prompt, n, kv, chunk, &oracle, draft_max, greedy());
        EXPECT_EQ(r.tokens, ref) << "wrong " << wrong << " draft_max " << draft_max;
        EXPECT_GT(r.speculative.drafted, 0);
        if (wrong == 0.0) {
          EXPECT_EQ(r.speculative.accepted, r.speculative.drafted);
          EXPECT_LE(r.speculative.passes, (n + draft_max) / (draft_max + 1) + 1) << "drafts did not save passes";
        }
        if (wrong == 1.0) {
          EXPECT_EQ(r.speculative.accepted, 0);
        }
        if (wrong == 0.25) {
          EXPECT_GT(r.speculative.accepted, 0);
          EXPECT_LT(r.speculative.accepted, r.speculative.drafted);
        }
      }
  }
}

TEST(Speculative, GreedyOutputIsIdenticalWithTheRealDrafters) {
  for (const std::string fx : {"g4-e4b-assistant", "g4-31b-assistant"}) {
    auto target = load_model(test::fixture(fx) + "/target");
    auto drafter = load_drafter(test::fixture(fx) + "/drafter");
    DrafterSource source(*target, *drafter);
    const std::vector<int32_t> prompt = prompt_of(30, 2);
    const std::vector<int32_t> ref = run(*target, prompt, 100, KVType::F32, 8, nullptr, 0, greedy()).tokens;
    GenerationResult r = run(*target, prompt, 100, KVType::F32, 8, &source, 4, greedy());
    EXPECT_EQ(r.tokens, ref) << fx;
    EXPECT_GT(r.speculative.drafted, 0) << fx;
  }
}

TEST(Speculative, GenerateCliGivesTheSameIdsWithAndWithoutDraft) {
  for (const std::string fx : {"g4-e4b-assistant", "g4-31b-assistant"}) {
    const std::string dir = test::fixture(fx);
    std::string ids;
    for (int32_t id : prompt_of(20, 3)) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    const std::string base = "generate --model " + dir + "/target --ids " + ids + " --max-tokens 60 --greedy --ignore-eos --json --threads 1";
    test::CliResult plain = test::run_cli(base);
    test::CliResult spec = test::run_cli(base + " --draft " + dir + "/drafter --draft-max 3");
    ASSERT_EQ(plain.status, 0) << plain.out;
    ASSERT_EQ(spec.status, 0) << spec.out;
    const size_t a = plain.out.find("{\"ids\":["), b = spec.out.find("{\"ids\":[");
    ASSERT_NE(a, std::string::npos);
    ASSERT_NE(b, std::string::npos);
    EXPECT_EQ(plain.out.substr(a, plain.out.find(']', a) - a), spec.out.substr(b, spec.out.find(']', b) - b)) << fx;
    EXPECT_NE(spec.out.find("\"drafted\":"), std::string::npos) << spec.out;
  }
  test::CliResult lone = test::run_cli("generate --model " + test::fixture(kTarget) + "/target --ids 2,3 --draft-max 3");
  EXPECT_NE(lone.status, 0);
  EXPECT_NE(lone.out.find("--draft-max needs --draft"), std::string::npos) << lone.out;
}

// The target's sampling distribution after `history`: top-3 at temperature 1.
std::map<int32_t, double> top3(const Model& m, const std::vector<int32_t>& history) {
  auto cache = m.new_cache(int64_t(history.size()), 512, KVType::F32);
  std::vector<float> l = m.prefill(*cache, history);
  std::vector<int32_t> idx(l.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int32_t(i);
  std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(), [&](int32_t a, int32_t b) { return l[size_t(a)] > l[size_t(b)]; });
  double z = 0;
  std::map<int32_t, double> p;
  for (int i = 0; i < 3; ++i) z += std::exp(double(l[size_t(idx[size_t(i)])] - l[size_t(idx[0])]));
  for (int i = 0; i < 3; ++i) p[idx[size_t(i)]] = std::exp(double(l[size_t(idx[size_t(i)])] - l[size_t(idx[0])])) / z;
  return p;
}

// Proposes, after each first token, the target's most likely second token and then a fixed third one:
// drafts that are accepted about half of the time.
class LikelySource : public DraftSource {
 public:
  std::map<int32_t, int32_t> best_after;  // first token -> most likely second token
  std::vector<int32_t> propose(const KVCache&, const std::vector<int32_t>& history, const std::vector<float>&, int k) override {
    auto it = best_after.find(history.back());
    if (it == best_after.end()) return {};
    std::vector<int32_t> d{it->second, 17};
    if (int(d.size()) > k) d.resize(size_t(k));
    return d;
  }
};

TEST(Speculative, SamplingFollowsTheTargetDistribution) {
  auto target = load_model(test::fixture(kTarget) + "/target");
  const std::vector<int32_t> prompt = prompt_of(12, 4);
  // The exact joint distribution of the first three tokens under top-3 sampling.
  std::map<std::vector<int32_t>, double> exact;
  LikelySource likely;
  for (auto [a, pa] : top3(*target, prompt)) {
    std::vector<int32_t> h1 = prompt;
    h1.push_back(a);
    const auto p2 = top3(*target, h1);
    likely.best_after[a] = std::max_element(p2.begin(), p2.end(), [](auto& x, auto& y) { return x.second < y.second; })->first;
    for (auto [b, pb] : p2) {
      std::vector<int32_t> h2 = h1;
      h2.push_back(b);
      for (auto [c, pc] : top3(*target, h2)) exact[{a, b, c}] = pa * pb * pc;
    }
  }
  const int N = 3000;
  std::map<std::vector<int32_t>, int> seen;
  SpeculativeStats stats;
  for (int s = 0; s < N; ++s) {
    SamplingParams sp;
    sp.top_k = 3;
    sp.temperature = 1.0f;
    sp.seed = uint64_t(s);
    GenerationResult r = run(*target, prompt, 3, KVType::F32, 512, &likely, 2, sp);
    ASSERT_EQ(r.tokens.size(), 3u);
    ASSERT_TRUE(exact.count(r.tokens)) << "a token outside the top 3";
    ++seen[r.tokens];
    stats.add(r.speculative);
  }
  // Both outcomes of verification must have happened many times for the test to mean anything.
  EXPECT_GT(stats.accepted, N / 10);
  EXPECT_LT(stats.accepted, stats.drafted - N / 10);
  // Chi-square over the 27 outcomes (cells expected below 5 pooled); 1e-3 critical values.
  double chi2 = 0, pooled_exp = 0, pooled_obs = 0;
  int cells = 0;
  for (const auto& [seq, p] : exact) {
    const double e = p * N, o = seen.count(seq) ? seen[seq] : 0;
    if (e < 5) {
      pooled_exp += e;
      pooled_obs += o;
      continue;
    }
    chi2 += (o - e) * (o - e) / e;
    ++cells;
  }
  if (pooled_exp > 0) {
    chi2 += (pooled_obs - pooled_exp) * (pooled_obs - pooled_exp) / pooled_exp;
    ++cells;
  }
  // Critical values of chi-square at p = 0.001 for dof = cells - 1 (Wilson-Hilferty approximation).
  const double dof = cells - 1, z = 3.09;
  const double crit = dof * std::pow(1 - 2 / (9 * dof) + z * std::sqrt(2 / (9 * dof)), 3);
  EXPECT_LT(chi2, crit) << "cells " << cells << ", accepted " << stats.accepted << " of " << stats.drafted;
}

}  // namespace
}  // namespace g4

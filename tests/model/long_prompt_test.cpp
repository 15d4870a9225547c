// Long prompts on the Hugging Face fixtures: an 8,192-token random prompt, fed in 512-token chunks
// (tiled attention, sliding rings wrapping many times), gives the logits of the plain definition (every
// query token alone against its keys), for every fixture architecture; and the fast bf16-tile path
// stays within its rounding of the exact one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/drift.h"
#include "model/model.h"
#include "quant/flash_attention.h"
#include "test_util.h"

namespace g4 {
namespace {

using kernels::AttnPath;

std::vector<int32_t> random_prompt(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& x : ids) x = int32_t(rng() % uint32_t(vocab));
  return ids;
}

// Logits of the last 16 tokens (and the last chunk's shape checks every position of it).
std::vector<float> tail_logits(const Model& m, const std::vector<int32_t>& ids, KVTypes t, AttnPath path) {
  kernels::attention_force_path(path);
  auto cache = m.new_cache(int64_t(ids.size()), 512, t);
  const size_t head = ids.size() - 16;
  m.prefill(*cache, std::vector<int32_t>(ids.begin(), ids.begin() + long(head)));
  std::vector<float> out = m.prefill(*cache, std::vector<int32_t>(ids.begin() + long(head), ids.end()), true);
  kernels::attention_force_path(AttnPath::Auto);
  return out;
}

class LongPrompt : public ::testing::TestWithParam<std::string> {};

TEST_P(LongPrompt, TiledEqualsOneQueryAtATime) {
  auto m = load_model(test::fixture(GetParam()));
  const std::vector<int32_t> ids = random_prompt(8192, m->config().vocab_size, 5);
  const std::vector<float> plain = tail_logits(*m, ids, KVType::F32, AttnPath::Rows);
  const std::vector<float> tiled = tail_logits(*m, ids, KVType::F32, AttnPath::Auto);
  ASSERT_EQ(plain.size(), tiled.size());
  // Summation order differs (tiles of 64 keys with an online softmax against one pass per query).
  EXPECT_LE(test::rel_error(tiled, plain), 1e-4);
}

TEST_P(LongPrompt, FastTilesStayCloseToExact) {
  // The f16 cache selects the fast path; the row path over the same f16 rows multiplies in f32.
  auto m = load_model(test::fixture(GetParam()));
  const std::vector<int32_t> ids = random_prompt(8192, m->config().vocab_size, 6);
  const std::vector<float> exact = tail_logits(*m, ids, KVType::F16, AttnPath::Rows);
  const std::vector<float> fast = tail_logits(*m, ids, KVType::F16, AttnPath::Auto);
  const size_t vocab = size_t(m->config().vocab_size);
  const Drift d = distribution_drift(fast.data(), exact.data(), fast.size() / vocab, vocab);
  std::printf("[%s, 8192 tokens, f16 KV] fast tiles vs exact: max rel %.3g, mean KL %.3g, top-1 %.0f %%\n",
              GetParam().c_str(), test::rel_error(fast, exact), d.kl, 100 * d.top1);
  // Logits move by ~1e-4 relative, but a mixture-of-experts router amplifies any perturbation into a
  // different expert now and then: judged by the distributions.
  EXPECT_LE(d.kl, 1e-3);
  EXPECT_GE(d.top1, 15.0 / 16);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LongPrompt, ::testing::Values("g4-e2b", "g4-e4b", "g4-26b-a4b", "g4-31b", "g3-27b"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace g4

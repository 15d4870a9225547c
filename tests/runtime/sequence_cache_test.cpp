// Prefix reuse (SequenceCache), the one implementation behind chat sessions and the server's slots: a
// prompt that shares a prefix with the cache continues from it with the same logits as a fresh prefill,
// also when the shared prefix ends further back than a sliding ring can roll back (through the
// checkpoint taken at the end of the previous prompt), and it falls back to a full prefill, not to a
// wrong answer, when no checkpoint covers the prefix.
#include <gtest/gtest.h>

#include <random>

#include "model/model.h"
#include "model/weight_source.h"
#include "runtime/sequence_cache.h"
#include "test_util.h"

namespace g4 {
namespace {

// A Gemma 4 with every E2B feature, an 8-token window and 4-token chunks, so that rings wrap quickly.
std::unique_ptr<Model> small_model() {
  Json types = Json::array();
  for (int i = 0; i < 10; ++i) types.push_back((i + 1) % 5 == 0 ? "full_attention" : "sliding_attention");
  Json cfg{{"model_type", "gemma4_text"}, {"vocab_size", 512}, {"vocab_size_per_layer_input", 512},
           {"hidden_size", 128}, {"hidden_size_per_layer_input", 16}, {"intermediate_size", 256},
           {"num_hidden_layers", 10}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
           {"head_dim", 32}, {"global_head_dim", 64}, {"num_kv_shared_layers", 4},
           {"use_double_wide_mlp", true}, {"sliding_window", 8}, {"layer_types", types},
           {"final_logit_softcapping", 30.0}, {"max_position_embeddings", 4096}};
  return std::make_unique<Model>(config_from_hf_json(cfg, "test config"), std::make_shared<RandomWeightSource>(WType::BF16, 11));
}

std::vector<int32_t> tokens(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = int32_t(rng() % 512);
  return v;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Feeds `ids` one at a time (decoding) and records them.
void decode(const Model& m, SequenceCache& s, const std::vector<int32_t>& ids) {
  for (int32_t id : ids) {
    m.prefill(s.cache(), {id});
    s.appended(id);
  }
}

// Reuses what it can of `prompt`, prefills the rest; returns the last logits and how much was reused.
std::vector<float> answer(const Model& m, SequenceCache& s, const std::vector<int32_t>& prompt, size_t& reused) {
  reused = s.reuse(prompt);
  std::vector<int32_t> rest(prompt.begin() + long(reused), prompt.end());
  std::vector<float> logits = m.prefill(s.cache(), rest);
  s.appended(rest.data(), rest.size());
  s.prompt_done();
  return logits;
}

std::vector<float> fresh(const Model& m, const std::vector<int32_t>& prompt) {
  auto cache = m.new_cache(512, 4, KVType::F32);
  return m.prefill(*cache, prompt);
}

TEST(SequenceCache, TurnsReuseThePromptEndCheckpointPastTheRing) {
  auto m = small_model();
  SequenceCache s(m->new_cache(512, 4, KVType::F32, 2));
  // Turn 1: a prompt, then a 30-token answer (the ring holds 8 - 1 + 4 = 11 positions: it wraps).
  const std::vector<int32_t> p1 = tokens(21, 1), a1 = tokens(30, 2);
  size_t reused = 0;
  answer(*m, s, p1, reused);
  EXPECT_EQ(reused, 0u);
  decode(*m, s, a1);
  // Turn 2 renders the answer differently (thinking dropped): the prompt shares p1 and 3 more tokens.
  const std::vector<int32_t> p2 = concat(concat(p1, {a1[0], a1[1], a1[2]}), tokens(17, 3));
  const std::vector<float> got = answer(*m, s, p2, reused);
  EXPECT_EQ(reused, p1.size()) << "returns to the checkpoint at the end of turn 1's prompt";
  EXPECT_LE(test::rel_error(got, fresh(*m, p2)), 1e-5);
  // Turn 3 shares all of turn 2's prompt and a few answer tokens that the ring still holds.
  const std::vector<int32_t> a2 = tokens(3, 4);
  decode(*m, s, a2);
  const std::vector<int32_t> p3 = concat(concat(p2, a2), tokens(9, 5));
  const std::vector<float> got3 = answer(*m, s, p3, reused);
  EXPECT_EQ(reused, p2.size() + a2.size()) << "within the ring's spare slots: no checkpoint needed";
  EXPECT_LE(test::rel_error(got3, fresh(*m, p3)), 1e-5);
}

TEST(SequenceCache, WithoutACheckpointItStartsOver) {
  auto m = small_model();
  SequenceCache s(m->new_cache(512, 4, KVType::F32, 0));  // no checkpoints: the old behaviour
  const std::vector<int32_t> p1 = tokens(21, 1), a1 = tokens(30, 2);
  size_t reused = 0;
  answer(*m, s, p1, reused);
  decode(*m, s, a1);
  const std::vector<int32_t> p2 = concat(p1, tokens(17, 3));
  const std::vector<float> got = answer(*m, s, p2, reused);
  EXPECT_EQ(reused, 0u);
  EXPECT_LE(test::rel_error(got, fresh(*m, p2)), 1e-5);
}

TEST(SequenceCache, IdenticalPromptStillFeedsOneToken) {
  auto m = small_model();
  SequenceCache s(m->new_cache(512, 4, KVType::F32, 2));
  const std::vector<int32_t> p = tokens(15, 9);
  size_t reused = 0;
  const std::vector<float> first = answer(*m, s, p, reused);
  const std::vector<float> again = answer(*m, s, p, reused);
  EXPECT_EQ(reused, p.size() - 1);
  EXPECT_LE(test::rel_error(again, first), 1e-5);
  EXPECT_EQ(s.tokens(), p);
}

}  // namespace
}  // namespace g4

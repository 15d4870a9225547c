// Memory planning before loading: the KV estimate follows the real models' shapes (worked out by hand
// from their configs), the largest fitting context is consistent with the plan, and a run that cannot
// fit is refused with its figures.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "model/memory_plan.h"
#include "model/model.h"
#include "test_util.h"

namespace g4 {
namespace {

// The released E2B geometry (../shared/docs/gemma4-architecture.md §13): 35 layers, full every 5th,
// KV shared from layer 15 on, one KV head, head dims 256 (sliding) / 512 (full), window 512.
ModelConfig e2b() {
  Json types = Json::array();
  for (int i = 0; i < 35; ++i) types.push_back((i + 1) % 5 == 0 ? "full_attention" : "sliding_attention");
  Json cfg{{"model_type", "gemma4_text"}, {"vocab_size", 262144}, {"hidden_size", 1536}, {"intermediate_size", 6144},
           {"num_hidden_layers", 35}, {"num_attention_heads", 8}, {"num_key_value_heads", 1}, {"head_dim", 256},
           {"global_head_dim", 512}, {"num_kv_shared_layers", 20}, {"use_double_wide_mlp", true},
           {"sliding_window", 512}, {"layer_types", types}, {"hidden_size_per_layer_input", 256},
           {"max_position_embeddings", 131072}};
  return config_from_hf_json(cfg, "e2b config");
}

TEST(MemoryPlan, KvCacheOfTheRealE2B) {
  const ModelConfig c = e2b();
  RunShape s;
  s.ctx = 131072;
  s.chunk = 512;
  s.kv_types = KVType::F16;
  const MemoryPlan p = plan_memory(c, 0, s);
  // Non-shared layers 0..14: full 4, 9, 14 hold every position, 1 head x 512 values for K and for V;
  // the 12 sliding layers hold a ring of 511 + 512 positions of 1 x 256. Two bytes per f16 value.
  const int64_t full = 3LL * 131072 * 2 * 512 * 2, sliding = 12LL * (511 + 512) * 2 * 256 * 2;
  EXPECT_EQ(p.kv_bytes, full + sliding);
  s.kv_types = KVType::Q4_0;  // 18 bytes per 32 values
  EXPECT_EQ(plan_memory(c, 0, s).kv_bytes, (full + sliding) / 2 / 32 * 18);
  s.kv_types = KVTypes(KVType::Q8_0, KVType::F16);  // 34 bytes per 32 keys, 2 per value
  EXPECT_EQ(plan_memory(c, 0, s).kv_bytes, (full + sliding) / 2 / 32 * 34 / 2 + (full + sliding) / 2);
  s.kv_types = KVType::F16;
  s.sequences = 3;
  s.checkpoints = 2;  // each: the 511 positions before the window's end, for every sliding layer
  EXPECT_EQ(plan_memory(c, 0, s).kv_bytes, 3 * (full + sliding + 2 * 12LL * 511 * 2 * 256 * 2));
}

TEST(MemoryPlan, LargestContextAgreesWithThePlan) {
  const ModelConfig c = e2b();
  RunShape s;
  const int64_t weights = 2LL << 30;
  s.ctx = 65536;
  const int64_t budget = plan_memory(c, weights, s).total();
  const int64_t fits = largest_context(c, weights, s, budget);
  EXPECT_EQ(fits, 65536);
  s.ctx = fits + 256;
  EXPECT_GT(plan_memory(c, weights, s).total(), budget);
  EXPECT_EQ(largest_context(c, weights, s, weights / 2), 0) << "the weights alone do not fit";
  EXPECT_EQ(largest_context(c, 0, s, int64_t(1) << 50), 131072) << "capped at the trained context";
}

TEST(MemoryPlan, ARunThatCannotFitIsRefusedWithTheFigures) {
  if (available_memory_bytes() < 0) GTEST_FAIL() << "/proc/meminfo has no MemAvailable on this machine";
  const ModelConfig c = e2b();
  RunShape s;
  s.ctx = 131072;
  try {
    check_memory(c, int64_t(1) << 50, s);  // a petabyte of weights
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("not enough memory for a context of 131072 tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("weights 1024.00 TiB"), std::string::npos) << m;
    EXPECT_NE(m.find("is available"), std::string::npos) << m;
    EXPECT_NE(m.find("the weights alone do not fit"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(check_memory(c, 1 << 20, RunShape{}));  // a tiny run fits anywhere
}

TEST(MemoryPlan, ReadsConfigsWithoutLoading) {
  const ModelConfig c = read_model_config(test::fixture("g4-e2b"));
  EXPECT_EQ(c.n_layers, 10);
  EXPECT_GT(model_weight_bytes(test::fixture("g4-e2b")), 0);
  EXPECT_THROW(read_model_config("/nonexistent/model"), Error);
}

}  // namespace
}  // namespace g4

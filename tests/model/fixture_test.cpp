// The model against Hugging Face transformers' own activations (../shared/fixtures/hf): embeddings,
// per-layer inputs, every layer's output, MoE routing, prompt logits, and 20 greedy tokens with the
// KV cache.
#include <gtest/gtest.h>

#include <map>

#include "formats/safetensors.h"
#include "model/model.h"
#include "test_util.h"

namespace g4 {
namespace {

constexpr double kTolerance = 1e-4;
// The references are float32 activations: the KV cache must be f32 too (f16, the default, rounds keys
// and values to ~3 significant digits).
constexpr KVType kExact = KVType::F32;

struct Reference {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<int32_t> input_ids;
  std::vector<float> get(const std::string& name) const {
    const TensorInfo* t = file->find(name);
    if (!t) return {};
    return t->dtype == DType::I64 ? to_float(tensor_to_i64(*t)) : tensor_to_f32(*t);
  }
  bool has(const std::string& name) const { return file->find(name) != nullptr; }
  static std::vector<float> to_float(const std::vector<int64_t>& v) { return std::vector<float>(v.begin(), v.end()); }
};

Reference load_reference(const std::string& dir) {
  Reference r;
  r.file = SafetensorsFile::open(dir + "/reference.safetensors");
  for (int64_t id : tensor_to_i64(*r.file->find("input_ids"))) r.input_ids.push_back(int32_t(id));
  return r;
}

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, PromptActivationsAndLogitsMatchTransformers) {
  const std::string dir = test::fixture(GetParam());
  Reference ref = load_reference(dir);
  auto model = load_model(dir);
  std::map<std::string, std::vector<float>> got;
  ActivationSink sink = [&](const std::string& name, const float* data, const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    got[name].assign(data, data + n);
  };
  auto cache = model->new_cache(int64_t(ref.input_ids.size()) + 1, 512, kExact);
  std::vector<float> logits = model->prefill(*cache, ref.input_ids, true, &sink);

  int compared = 0;
  for (const auto& [name, values] : got) {
    if (!ref.has(name)) continue;
    std::vector<float> want = ref.get(name);
    ASSERT_EQ(values.size(), want.size()) << name;
    if (name.find("topk_index") != std::string::npos) {
      EXPECT_EQ(values, want) << "MoE routing choices differ at " << name;
    } else {
      double e = test::rel_error(values, want);
      EXPECT_LE(e, kTolerance) << name;
    }
    ++compared;
  }
  const int L = model->config().n_layers;
  EXPECT_GE(compared, L + 1) << "expected embed and every layer.<i> to be compared";
  double e = test::rel_error(logits, ref.get("logits"));
  std::printf("[%s] prompt logits rel error %.3g over %zu tokens\n", GetParam().c_str(), e, ref.input_ids.size());
  EXPECT_LE(e, kTolerance);
}

TEST_P(FixtureTest, GreedyDecodingWithKVCacheMatchesGeneratedIds) {
  const std::string dir = test::fixture(GetParam());
  Reference ref = load_reference(dir);
  auto model = load_model(dir);
  std::vector<float> want_ids = ref.get("generated_ids"), want_logits = ref.get("generated_logits");
  const size_t V = size_t(model->config().vocab_size), n = want_ids.size();
  ASSERT_EQ(n, 20u);
  auto cache = model->new_cache(int64_t(ref.input_ids.size() + n), 512, kExact);
  std::vector<float> logits = model->prefill(*cache, ref.input_ids);
  double worst = 0;
  for (size_t k = 0; k < n; ++k) {
    worst = std::max(worst, test::rel_error(logits.data(), want_logits.data() + k * V, V));
    int32_t next = test::argmax(logits.data(), V);
    ASSERT_EQ(next, int32_t(want_ids[k])) << "greedy token " << k;
    logits = model->prefill(*cache, {next});
  }
  std::printf("[%s] generated logits worst rel error %.3g\n", GetParam().c_str(), worst);
  EXPECT_LE(worst, kTolerance);
}

// Chunks of 1, 3 or 7 tokens take the kernels' matrix-vector paths while the 37-token pass takes the
// matrix-matrix path; they sum in different orders, so they agree to float rounding (a few 1e-5 of
// the logit range), not bit for bit. A wrong window, ring slot or position would be off by far more.
constexpr double kChunkTolerance = 5e-5;

TEST_P(FixtureTest, ChunkedPrefillEqualsOnePass) {
  const std::string dir = test::fixture(GetParam());
  Reference ref = load_reference(dir);
  auto model = load_model(dir);
  auto one = model->new_cache(64, 512, kExact);
  std::vector<float> whole = model->prefill(*one, ref.input_ids, true);
  for (int chunk : {1, 3, 7}) {
    auto cache = model->new_cache(64, chunk, kExact);
    std::vector<float> chunked = model->prefill(*cache, ref.input_ids, true);
    EXPECT_LE(test::rel_error(chunked, whole), kChunkTolerance) << "chunk " << chunk;
    // The caches must also agree: the next token's logits are the same.
    std::vector<float> a = model->prefill(*cache, {5}), b = model->prefill(*one, {5});
    EXPECT_LE(test::rel_error(a, b), kChunkTolerance) << "chunk " << chunk;
    one = model->new_cache(64, 512, kExact);
    whole = model->prefill(*one, ref.input_ids, true);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("g4-e2b", "g4-e4b", "g4-26b-a4b", "g4-31b", "g3-27b"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace g4

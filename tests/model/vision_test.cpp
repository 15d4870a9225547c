// The vision tower and image prompts against transformers' activations (../shared/fixtures/hf/*-mm):
// soft tokens from the reference pixel_values, prompt logits with the soft tokens in place of the
// placeholders (and the bidirectional image block of 26B), the greedy continuation with the KV cache,
// and the tower read from llama.cpp's projector GGUF layout (the projector writer's round trip is in
// tests/convert/mmproj_writer_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/model.h"
#include "model/vision_tower.h"
#include "quant/kernels.h"
#include "media_reference.h"
#include "test_util.h"

namespace g4 {
namespace {

constexpr double kTolerance = 1e-4;

using test::encode_reference_image;
using test::load_ref;
using test::MmReference;

// The prompt of the fixture with every placeholder run replaced by its soft tokens: images from the
// tower, audio from the reference's audio_soft_tokens (the audio tower is tested on its own).
struct Prompt {
  std::vector<int32_t> ids;
  std::vector<float> image, audio;
  std::vector<MediaSpan> spans;
};

Prompt build_prompt(const Model& model, const MmReference& ref) {
  const MultimodalModel& mm = *model.media();
  Prompt p;
  for (int64_t v : ref.i64("input_ids")) p.ids.push_back(int32_t(v));
  int64_t n = 0;
  p.image = encode_reference_image(*mm.vision, ref, &n);
  p.audio = ref.f32("audio_soft_tokens");
  const int64_t H = model.config().hidden_size;
  int64_t used_image = 0, used_audio = 0;
  for (size_t i = 0; i < p.ids.size();) {
    const bool img = p.ids[i] == mm.tokens.image, aud = p.ids[i] == mm.tokens.audio;
    if (!img && !aud) { ++i; continue; }
    size_t j = i;
    while (j < p.ids.size() && p.ids[j] == p.ids[i]) ++j;
    MediaSpan s;
    s.offset = int64_t(i);
    s.count = int64_t(j - i);
    s.rows = img ? p.image.data() + used_image * H : p.audio.data() + used_audio * H;
    s.bidirectional = img && mm.bidirectional_vision;
    (img ? used_image : used_audio) += s.count;
    p.spans.push_back(s);
    i = j;
  }
  EXPECT_EQ(used_image, n) << "image placeholders vs soft tokens";
  EXPECT_EQ(used_audio * H, int64_t(p.audio.size())) << "audio placeholders vs soft tokens";
  return p;
}

class VisionFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(VisionFixture, SoftTokensMatchTransformers) {
  const std::string dir = test::fixture(GetParam());
  MmReference ref = load_ref(dir);
  auto model = load_model(dir);
  ASSERT_NE(model->media(), nullptr);
  ASSERT_NE(model->media()->vision, nullptr);
  int64_t n = 0;
  std::vector<float> soft = encode_reference_image(*model->media()->vision, ref, &n);
  std::vector<float> want = ref.f32("image_soft_tokens");
  ASSERT_EQ(soft.size(), want.size());
  const double e = test::rel_error(soft, want);
  std::printf("[%s] image soft tokens (%lld) rel error %.3g\n", GetParam().c_str(), (long long)n, e);
  EXPECT_LE(e, kTolerance);
}

// TowerMath::Fast (bf16 activations in the bf16 GEMMs, bf16 attention tiles) is not exact: its error
// against transformers is bounded loosely, and where the CPU has bf16 units it must differ from Exact (else
// the fast path was not taken); elsewhere it is Exact.
TEST_P(VisionFixture, FastMathStaysCloseToTransformers) {
  const std::string dir = test::fixture(GetParam());
  MmReference ref = load_ref(dir);
  auto model = load_model(dir);
  const VisionTower& tower = *model->media()->vision;
  int64_t n = 0, n_exact = 0;
  std::vector<float> fast = encode_reference_image(tower, ref, &n, TowerMath::Fast);
  std::vector<float> again = encode_reference_image(tower, ref, &n, TowerMath::Fast);
  std::vector<float> exact = encode_reference_image(tower, ref, &n_exact);
  std::vector<float> want = ref.f32("image_soft_tokens");
  ASSERT_EQ(fast.size(), want.size());
  EXPECT_EQ(n, n_exact);
  EXPECT_EQ(fast, again);
  const double e = test::rel_error(fast, want), e_exact = test::rel_error(exact, want);
  std::printf("[%s] fast image soft tokens rel error %.3g (exact %.3g)\n", GetParam().c_str(), e, e_exact);
  EXPECT_LE(e, 1e-2);
  const bool bf16_units = kernels::matmul_path(WType::BF16, 64, MatmulMath::Fast) != kernels::matmul_path(WType::BF16, 64);
  if (bf16_units) EXPECT_GT(e, e_exact) << "the fast path gave the exact result: was it taken?";
  else EXPECT_EQ(fast, exact) << "without bf16 units Fast is Exact";
}

TEST_P(VisionFixture, PromptLogitsAndGreedyContinuationMatchTransformers) {
  const std::string dir = test::fixture(GetParam());
  MmReference ref = load_ref(dir);
  auto model = load_model(dir);
  Prompt p = build_prompt(*model, ref);
  const size_t V = size_t(model->config().vocab_size);
  std::vector<int64_t> want_ids = ref.i64("generated_ids");
  std::vector<float> want_logits = ref.f32("generated_logits");
  auto cache = model->new_cache(int64_t(p.ids.size() + want_ids.size() + 1), 512, KVType::F32);
  std::vector<float> logits = model->prefill(*cache, p.ids, p.spans, true);
  const double e = test::rel_error(logits, ref.f32("logits"));
  std::printf("[%s] prompt logits rel error %.3g over %zu tokens\n", GetParam().c_str(), e, p.ids.size());
  EXPECT_LE(e, kTolerance);
  // Greedy decoding continues from the last prompt position, plain causal (no media in the steps).
  std::vector<float> last(logits.end() - long(V), logits.end());
  double worst = 0;
  for (size_t k = 0; k < want_ids.size(); ++k) {
    worst = std::max(worst, test::rel_error(last.data(), want_logits.data() + k * V, V));
    const int32_t next = test::argmax(last.data(), V);
    ASSERT_EQ(next, int32_t(want_ids[k])) << "greedy token " << k;
    last = model->prefill(*cache, {next});
  }
  std::printf("[%s] generated logits worst rel error %.3g\n", GetParam().c_str(), worst);
  EXPECT_LE(worst, kTolerance);
}

// Small chunks: the image block is moved whole into the next pass when a chunk would cut it (26B), and
// the result is the one-pass result.
TEST_P(VisionFixture, ChunkedPrefillKeepsImageBlocksWhole) {
  const std::string dir = test::fixture(GetParam());
  MmReference ref = load_ref(dir);
  auto model = load_model(dir);
  Prompt p = build_prompt(*model, ref);
  auto one = model->new_cache(128, 512, KVType::F32);
  std::vector<float> whole = model->prefill(*one, p.ids, p.spans, true);
  auto chunked_cache = model->new_cache(128, 64, KVType::F32);
  std::vector<float> chunked = model->prefill(*chunked_cache, p.ids, p.spans, true);
  EXPECT_LE(test::rel_error(chunked, whole), 5e-5);
  if (model->media()->bidirectional_vision) {
    auto tiny = model->new_cache(128, 16, KVType::F32);
    EXPECT_THROW(model->prefill(*tiny, p.ids, p.spans, true), Error) << "a 60-token image cannot fit chunks of 16";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VisionFixture, ::testing::Values("g4-e2b-mm", "g4-26b-a4b-mm"), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
});

TEST(VisionTower, PoolingCountsAndBadPositions) {
  // 6 x 3 patches + 9 padding -> 27 patches, 3 pooled rows, 2 of them used by real patches (+ row 0).
  std::vector<int32_t> pos;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 6; ++x) { pos.push_back(x); pos.push_back(y); }
  for (int i = 0; i < 9; ++i) { pos.push_back(-1); pos.push_back(-1); }
  EXPECT_EQ(VisionTower::soft_token_count(pos.data(), 27, 3), 2);
  pos[0] = 40;  // x = 40 falls outside 3 pooled rows
  EXPECT_THROW(VisionTower::soft_token_count(pos.data(), 27, 3), Error);
  pos[0] = -5;
  EXPECT_THROW(VisionTower::soft_token_count(pos.data(), 27, 3), Error);
  EXPECT_THROW(VisionTower::soft_token_count(pos.data(), 4, 3), Error);
}

// The fuzz target's seed (a tiny projector written by hand in llama.cpp's layout, patch size 2) loads
// and encodes: the fuzzer starts from a file that reaches the tower.
TEST(VisionTower, TinyProjectorSeedLoadsAndEncodes) {
  auto mm = load_multimodal_gguf(std::string(G4_SOURCE_DIR) + "/fuzz/seeds/mmproj_fuzz/tiny-gemma4v.gguf", 64);
  ASSERT_NE(mm->vision, nullptr);
  EXPECT_EQ(mm->vision->config().patch_values(), 12);
  std::vector<float> px(9 * 12, 0.25f);
  std::vector<int32_t> pos;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) { pos.push_back(x); pos.push_back(y); }
  int64_t n = 0;
  std::vector<float> out = mm->vision->encode(px.data(), pos.data(), 9, &n, TowerMath::Exact);
  EXPECT_EQ(n, 1);
  ASSERT_EQ(out.size(), 64u);
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
}

// Sizes in a projector are untrusted: an absurd patch size is refused by name before anything is sized by it
// (the mmproj fuzzer found 3 * p * p overflowing int for p = 16777214).
TEST(VisionTower, ImplausibleProjectorSizesAreRefused) {
  const std::string seed = std::string(G4_SOURCE_DIR) + "/fuzz/seeds/mmproj_fuzz/tiny-gemma4v.gguf";
  auto src = GgufFile::open(seed);
  for (const auto& [key, value] : std::vector<std::pair<std::string, uint32_t>>{
           {"clip.vision.patch_size", 16777214u}, {"clip.vision.patch_size", 65u}, {"clip.vision.projector.scale_factor", 100000u},
           {"clip.vision.block_count", 0x7fffffffu}, {"clip.vision.patch_size", 0x80000000u}}) {
    GgufWriter w;
    w.copy_metadata(*src);
    w.set_u32(key, value);
    for (const GgufTensor& t : src->tensors()) w.add_tensor(t.name, t.ggml_type, t.ne, t.data, t.nbytes);
    const std::string out = testing::TempDir() + "/mmproj-implausible.gguf";
    w.write(out);
    try {
      load_multimodal_gguf(out, 64);
      ADD_FAILURE() << key << " = " << value << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("implausible vision tower sizes") != std::string::npos || msg.find("must all be positive") != std::string::npos)
          << key << " = " << value << ": " << msg;
    }
    std::filesystem::remove(out);
  }
}

}  // namespace
}  // namespace g4

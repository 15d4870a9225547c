// Prompt assembly with media: single placeholders expand as the official processor does (the fixtures'
// input_ids), the prefix-cache key follows the image's content, and resuming a prompt inside a cached
// image block (bidirectional on 26B) gives the one-pass logits.
#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/safetensors.h"
#include "runtime/media_input.h"
#include "runtime/sequence_cache.h"
#include "test_util.h"

namespace g4 {
namespace {

struct Fixture {
  std::unique_ptr<Model> model;
  std::vector<int32_t> input_ids;
  std::vector<float> pixels;
  std::vector<int32_t> positions;
  std::vector<float> logits;
};

Fixture load(const std::string& name) {
  Fixture f;
  const std::string dir = test::fixture(name);
  f.model = load_model(dir);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  for (int64_t v : tensor_to_i64(*ref->find("input_ids"))) f.input_ids.push_back(int32_t(v));
  f.pixels = tensor_to_f32(*ref->find("pixel_values"));
  for (int64_t v : tensor_to_i64(*ref->find("image_position_ids"))) f.positions.push_back(int32_t(v));
  f.logits = tensor_to_f32(*ref->find("logits"));
  return f;
}

std::shared_ptr<const EncodedMedia> image_of(const Fixture& f, float brighten = 0.0f) {
  std::vector<float> px = f.pixels;
  for (float& v : px) v = std::min(1.0f, v + brighten);
  return encode_pixels(*f.model, px.data(), f.positions.data(), int64_t(f.positions.size() / 2), "fixture image", TowerMath::Exact);
}

// The chat template's form: one placeholder per image, no markers.
std::vector<int32_t> collapse(const Model& m, const std::vector<int32_t>& ids) {
  const MediaTokens& t = m.media()->tokens;
  std::vector<int32_t> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == t.image_begin || ids[i] == t.image_end) continue;
    if (ids[i] == t.image && !out.empty() && out.back() == t.image) continue;
    out.push_back(ids[i]);
  }
  return out;
}

TEST(MediaPrompt, ExpansionReproducesTheProcessorsIds) {
  Fixture f = load("g4-26b-a4b-mm");
  MediaPrompt p = expand_media(*f.model, collapse(*f.model, f.input_ids), {image_of(f)});
  EXPECT_EQ(p.ids, f.input_ids);
  ASSERT_EQ(p.spans.size(), 1u);
  EXPECT_EQ(p.spans[0].offset, 8);
  EXPECT_EQ(p.spans[0].count, 60);
  EXPECT_TRUE(p.spans[0].bidirectional);
  for (int64_t i = 0; i < 60; ++i) EXPECT_LT(p.cache_key[size_t(8 + i)], 0);
  EXPECT_EQ(std::vector<int32_t>(p.cache_key.begin(), p.cache_key.begin() + 8), std::vector<int32_t>(f.input_ids.begin(), f.input_ids.begin() + 8));
  auto cache = f.model->new_cache(128, 512, KVType::F32);
  EXPECT_LE(test::rel_error(f.model->prefill(*cache, p.ids, p.spans, true), f.logits), 1e-4);
}

TEST(MediaPrompt, CountsMustAgree) {
  Fixture f = load("g4-26b-a4b-mm");
  const std::vector<int32_t> one = collapse(*f.model, f.input_ids);
  EXPECT_THROW(expand_media(*f.model, one, {image_of(f), image_of(f)}), Error);
  EXPECT_THROW(expand_media(*f.model, one, {}), Error);
  std::vector<int32_t> cut = f.input_ids;
  cut.erase(cut.begin() + 10);  // a run of 59 placeholders for 60 soft tokens
  EXPECT_THROW(place_media(*f.model, cut, {image_of(f)}), Error);
  EXPECT_EQ(place_media(*f.model, f.input_ids, {image_of(f)}).spans.size(), 1u);
}

// A later prompt that repeats the image keeps the cached block; another image of the same size does not.
TEST(MediaPrompt, PrefixReuseFollowsImageContent) {
  Fixture f = load("g4-26b-a4b-mm");
  const Model& m = *f.model;
  MediaPrompt first = expand_media(m, collapse(m, f.input_ids), {image_of(f)});
  SequenceCache seq(m.new_cache(256, 512, KVType::F32, 2));
  seq.reuse(first.cache_key);
  m.prefill(seq.cache(), first.ids, first.spans);
  seq.appended(first.cache_key.data(), first.ids.size());
  seq.prompt_done();

  std::vector<int32_t> longer = collapse(m, f.input_ids);
  longer.insert(longer.end(), {301, 302, 303});
  MediaPrompt same = expand_media(m, longer, {image_of(f)});
  EXPECT_EQ(seq.shared_prefix(same.cache_key), first.ids.size());
  MediaPrompt other = expand_media(m, longer, {image_of(f, 0.25f)});
  EXPECT_EQ(seq.shared_prefix(other.cache_key), 8u) << "the other image must not match past its first placeholder";

  const size_t kept = seq.reuse(same.cache_key);
  EXPECT_EQ(kept, first.ids.size());
  std::vector<int32_t> rest(same.ids.begin() + long(kept), same.ids.end());
  std::vector<float> resumed = m.prefill(seq.cache(), rest, same.spans_from(kept), true);
  auto fresh = m.new_cache(256, 512, KVType::F32);
  std::vector<float> whole = m.prefill(*fresh, same.ids, same.spans, true);
  const size_t V = size_t(m.config().vocab_size);
  std::vector<float> tail(whole.end() - long(rest.size() * V), whole.end());
  EXPECT_LE(test::rel_error(resumed, tail), 5e-5);
}

// Resuming in the middle of a bidirectional image block: the cached head saw the whole block, the tail
// sees it too; the result is the one-pass result.
TEST(MediaPrompt, ResumingInsideAnImageBlockIsExact) {
  Fixture f = load("g4-26b-a4b-mm");
  const Model& m = *f.model;
  MediaPrompt p = place_media(m, f.input_ids, {image_of(f)});
  const size_t cut = 30;  // inside the image (positions 8..67)
  auto cache = m.new_cache(128, 512, KVType::F32);
  // Head: the whole prompt's block must be visible to the head's queries, so prefill everything, then
  // roll back to `cut` and prefill the tail again.
  std::vector<float> whole = m.prefill(*cache, p.ids, p.spans, true);
  cache->truncate(cut);
  std::vector<int32_t> rest(p.ids.begin() + long(cut), p.ids.end());
  std::vector<float> again = m.prefill(*cache, rest, p.spans_from(cut), true);
  const size_t V = size_t(m.config().vocab_size);
  std::vector<float> tail(whole.begin() + long(cut * V), whole.end());
  EXPECT_LE(test::rel_error(again, tail), 5e-5);
  ASSERT_EQ(p.spans_from(cut).size(), 1u);
  EXPECT_EQ(p.spans_from(cut)[0].offset, 0);
  EXPECT_EQ(p.spans_from(cut)[0].count, 8 + 60 - int64_t(cut));
}

TEST(MediaPrompt, TextModelsAndMissingTowersAreRefusedByName) {
  auto text = load_model(test::fixture("g4-e2b"));
  try {
    encode_image_file(*text, "/nonexistent.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no media towers"), std::string::npos) << e.what();
  }
  Fixture f = load("g4-26b-a4b-mm");
  try {
    encode_audio_bytes(*f.model, "RIFF", "audio part 1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no audio tower"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("g4-26b-a4b-mm"), std::string::npos) << "the error names the model: " << e.what();
  }
  EXPECT_THROW(image_token_budget(100), Error);
  EXPECT_EQ(image_token_budget(0), 280);
}

}  // namespace
}  // namespace g4

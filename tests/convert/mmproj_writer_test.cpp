// The projector writer (convert/mmproj_writer.h): a Hugging Face folder's towers written as llama.cpp's
// projector GGUF and read back by the model give the same soft tokens as the folder and as transformers
// (../shared/fixtures/hf/*-mm); a folder without towers writes nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "convert/mmproj_writer.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "model/audio_tower.h"
#include "model/model.h"
#include "media_reference.h"
#include "test_util.h"

namespace g4 {
namespace {

constexpr double kTolerance = 1e-4;

using test::AudioReference;
using test::encode_reference_image;
using test::load_audio_reference;
using test::load_ref;
using test::MmReference;

class MmprojVisionFixture : public ::testing::TestWithParam<std::string> {};

// HF folder -> projector GGUF (llama.cpp's layout) -> the same soft tokens.
TEST_P(MmprojVisionFixture, ProjectorGgufGivesTheSameSoftTokens) {
  const std::string dir = test::fixture(GetParam());
  MmReference ref = load_ref(dir);
  auto model = load_model(dir);
  const std::string out = testing::TempDir() + "/mmproj-" + GetParam() + ".gguf";
  MmprojReport rep = write_mmproj_gguf(dir, out);
  ASSERT_TRUE(rep.written);
  const bool has_audio = model->media()->tokens.audio >= 0 && GetParam() == "g4-e2b-mm";
  EXPECT_TRUE(rep.notes.empty()) << rep.notes.front();  // both towers are written: nothing left out to report
  {
    auto f = GgufFile::open(out);
    EXPECT_EQ(f->get_string("general.architecture"), "clip");
    EXPECT_EQ(f->get_string("clip.vision.projector_type"), "gemma4v");
    EXPECT_EQ(f->get_bool("clip.has_audio_encoder", false), has_audio);
    const GgufTensor* patch = f->find_tensor("v.patch_embd.weight");
    ASSERT_NE(patch, nullptr);
    EXPECT_EQ(patch->ne, (std::vector<int64_t>{16, 16, 3, 32}));
    EXPECT_NE(f->find_tensor("mm.input_projection.weight"), nullptr);
    EXPECT_NE(f->find_tensor("v.blk.1.ln2.weight"), nullptr);
    EXPECT_NE(f->find_tensor("v.blk.1.attn_post_norm.weight"), nullptr);
  }
  auto mm = load_multimodal_gguf(out, model->config().hidden_size);
  ASSERT_NE(mm->vision, nullptr);
  EXPECT_EQ(mm->audio != nullptr, has_audio);
  int64_t n1 = 0, n2 = 0;
  std::vector<float> a = encode_reference_image(*model->media()->vision, ref, &n1);
  std::vector<float> b = encode_reference_image(*mm->vision, ref, &n2);
  EXPECT_EQ(n1, n2);
  EXPECT_LE(test::rel_error(b, a), 1e-6);
  EXPECT_LE(test::rel_error(b, ref.f32("image_soft_tokens")), kTolerance);
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MmprojVisionFixture, ::testing::Values("g4-e2b-mm", "g4-26b-a4b-mm"), [](const auto& info) {
  std::string s = info.param;
  for (char& c : s)
    if (c == '-') c = '_';
  return s;
});

TEST(MmprojWriter, ProjectorOfAnotherWidthIsRefused) {
  const std::string dir = test::fixture("g4-26b-a4b-mm");
  const std::string out = testing::TempDir() + "/mmproj-width.gguf";
  ASSERT_TRUE(write_mmproj_gguf(dir, out).written);
  try {
    load_multimodal_gguf(out, 128);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the text model's hidden size"), std::string::npos) << e.what();
  }
  std::filesystem::remove(out);
}

TEST(MmprojWriter, TextOnlyFolderHasNoMedia) {
  auto model = load_model(test::fixture("g4-e2b"));
  EXPECT_EQ(model->media(), nullptr);
  const std::string out = testing::TempDir() + "/mmproj-none.gguf";
  MmprojReport rep = write_mmproj_gguf(test::fixture("g4-e2b"), out);
  EXPECT_FALSE(rep.written);
  ASSERT_FALSE(rep.notes.empty());
  EXPECT_FALSE(std::filesystem::exists(out));
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "." + std::to_string(::getpid()) + ".gguf";
}

// The audio tower written as an mmproj GGUF and read back gives the same soft tokens.
TEST(MmprojWriter, MmprojGgufRoundTripGivesTheSameSoftTokens) {
  const std::string dir = test::fixture("g4-e2b-mm");
  AudioReference ref = load_audio_reference(dir);
  auto hf = AudioTower::load_hf(dir);
  auto source = open_hf_weights_under(dir, "model.");
  GgufWriter w;
  w.set_string("general.architecture", "clip");
  w.set_string("general.type", "mmproj");
  add_audio_tower_to_gguf(w, hf->config(), *source);
  const std::string path = temp_path("audio_mmproj");
  w.write(path);
  auto gg = AudioTower::load_gguf(path);
  EXPECT_EQ(gg->config().hidden_size, hf->config().hidden_size);
  EXPECT_EQ(gg->config().n_layers, hf->config().n_layers);
  EXPECT_EQ(gg->config().output_dims, hf->config().output_dims);
  EXPECT_EQ(gg->config().text_hidden_size, hf->config().text_hidden_size);
  EXPECT_EQ(gg->config().n_mel, hf->config().n_mel);
  AudioSoftTokens a = hf->encode(ref.features.data(), ref.frames, ref.mel, ref.mask.data());
  AudioSoftTokens b = gg->encode(ref.features.data(), ref.frames, ref.mel, ref.mask.data());
  ASSERT_EQ(a.n, b.n);
  EXPECT_LE(test::rel_error(b.data, a.data), 1e-6);
  EXPECT_LE(test::rel_error(b.data, ref.soft), kTolerance);
  // The converter's conventions: softplus(per_dim_scale), [1] bounds, [H, K] depthwise kernels, F32 convolutions.
  auto f = GgufFile::open(path);
  const GgufTensor* pds = f->find_tensor("a.blk.0.per_dim_scale.weight");
  const GgufTensor* dw = f->find_tensor("a.blk.0.conv_dw.weight");
  const GgufTensor* bound = f->find_tensor("a.blk.0.attn_q.input_max");
  const GgufTensor* conv = f->find_tensor("a.conv1d.1.weight");
  ASSERT_TRUE(pds && dw && bound && conv);
  EXPECT_EQ(dw->ne.size(), 2u);
  EXPECT_EQ(bound->ne, std::vector<int64_t>{1});
  EXPECT_EQ(conv->ggml_type, 0u);
  const float raw = tensor_to_f32(*SafetensorsFile::open(dir + "/model.safetensors")->find("model.audio_tower.layers.0.self_attn.per_dim_scale"))[0];
  float stored;
  std::memcpy(&stored, pds->data, 4);
  EXPECT_FLOAT_EQ(stored, std::log1p(std::exp(raw)));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace g4

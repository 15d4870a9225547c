// gemma4 media: the fixture's picture (as a PNG) and waveform (as a 32-bit float WAV) through the CLI, compared
// with the reference tensors; bad files and bad flags exit non-zero with one clear message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "formats/safetensors.h"
#include "media/media_test_util.h"
#include "cli/cli_test_util.h"
#include "test_util.h"

namespace {

namespace tm = g4::test::media;

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/g4_media_cli_" + std::to_string(::getpid()) + "_" + name;
}

void write_file(const std::string& path, const tm::Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

TEST(MediaCli, ImageAndAudioMatchFixture) {
  const std::string dir = g4::test::fixture("g4-e2b-mm");
  auto ref = g4::SafetensorsFile::open(dir + "/reference.safetensors");
  const g4::TensorInfo* rgb = ref->find("image_rgb_u8");
  const std::string png = temp_path("img.png"), wav = temp_path("clip.wav"), out = temp_path("out.safetensors");
  write_file(png, tm::encode_png(rgb->data, int(rgb->shape[1]), int(rgb->shape[0]), 3));
  auto r = g4::test::run_cli("media --model " + dir + " --image " + png + " --image-tokens 70 --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  {
    auto got = g4::SafetensorsFile::open(out);
    ASSERT_NE(got->find("pixel_values"), nullptr);
    EXPECT_EQ(got->find("pixel_values")->shape, ref->find("pixel_values")->shape);
    EXPECT_EQ(got->find("image_position_ids")->shape, ref->find("image_position_ids")->shape);
    double err = max_abs(g4::tensor_to_f32(*got->find("pixel_values")), g4::tensor_to_f32(*ref->find("pixel_values")));
    EXPECT_LE(err, 1e-4);
    EXPECT_EQ(g4::tensor_to_i64(*got->find("image_position_ids")),
              g4::tensor_to_i64(*ref->find("image_position_ids")));
  }
  write_file(wav, tm::encode_wav_f32(g4::tensor_to_f32(*ref->find("waveform_16k")), 16000, 1));
  r = g4::test::run_cli("media --model " + dir + " --audio " + wav + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  {
    auto got = g4::SafetensorsFile::open(out);
    EXPECT_EQ(got->find("input_features")->shape, ref->find("input_features")->shape);
    EXPECT_EQ(got->find("input_features_mask")->shape, ref->find("input_features_mask")->shape);
    double err = max_abs(g4::tensor_to_f32(*got->find("input_features")),
                         g4::tensor_to_f32(*ref->find("input_features")));
    EXPECT_LE(err, 1e-4);
    EXPECT_EQ(g4::tensor_to_i64(*got->find("input_features_mask")),
              g4::tensor_to_i64(*ref->find("input_features_mask")));
  }
  std::remove(png.c_str());
  std::remove(wav.c_str());
  std::remove(out.c_str());
}

TEST(MediaCli, BadInputsExitNonZero) {
  const std::string dir = g4::test::fixture("g4-e2b-mm");
  const std::string bad = temp_path("bad.png"), out = temp_path("never.safetensors");
  write_file(bad, tm::Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
  auto r = g4::test::run_cli("media --model " + dir + " --image " + bad + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("PNG"), std::string::npos) << r.out;
  r = g4::test::run_cli("media --model " + dir + " --audio " + bad + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("audio"), std::string::npos) << r.out;
  r = g4::test::run_cli("media --model " + dir + " --image " + bad + " --audio " + bad + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("exactly one"), std::string::npos) << r.out;
  r = g4::test::run_cli("media --model " + dir + " --image " + bad + " --image-tokens 100 --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("70, 140"), std::string::npos) << r.out;
  r = g4::test::run_cli("media --model " + dir + " --image /nonexistent.png --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cannot open"), std::string::npos) << r.out;
  std::ifstream never(out);
  EXPECT_FALSE(never.good());
  std::remove(bad.c_str());
}

// The whole path as a user runs it: the fixture's picture as a PNG (and its waveform as a WAV) through
// decoding, the processor, the towers and the decoder, against transformers' soft tokens and prompt logits.
void check_files_through_the_model(const std::string& name, bool with_audio) {
  const std::string dir = g4::test::fixture(name);
  auto ref = g4::SafetensorsFile::open(dir + "/reference.safetensors");
  const g4::TensorInfo* rgb = ref->find("image_rgb_u8");
  const std::string png = temp_path(name + ".png"), wav = temp_path(name + ".wav"), out = temp_path(name + ".safetensors");
  write_file(png, tm::encode_png(rgb->data, int(rgb->shape[1]), int(rgb->shape[0]), 3));
  auto r = g4::test::run_cli("media --model " + dir + " --image " + png + " --image-tokens 70 --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  {
    auto got = g4::SafetensorsFile::open(out);
    ASSERT_NE(got->find("image_soft_tokens"), nullptr);
    EXPECT_EQ(got->find("image_soft_tokens")->shape, ref->find("image_soft_tokens")->shape);
    EXPECT_LE(g4::test::rel_error(g4::tensor_to_f32(*got->find("image_soft_tokens")),
                                  g4::tensor_to_f32(*ref->find("image_soft_tokens"))), 1e-4);
  }
  std::string media = " --image " + png + " --image-tokens 70";
  if (with_audio) {
    write_file(wav, tm::encode_wav_f32(g4::tensor_to_f32(*ref->find("waveform_16k")), 16000, 1));
    r = g4::test::run_cli("media --model " + dir + " --audio " + wav + " --out " + out);
    ASSERT_EQ(r.status, 0) << r.out;
    auto got = g4::SafetensorsFile::open(out);
    ASSERT_NE(got->find("audio_soft_tokens"), nullptr);
    EXPECT_EQ(got->find("audio_soft_tokens")->shape, ref->find("audio_soft_tokens")->shape);
    EXPECT_LE(g4::test::rel_error(g4::tensor_to_f32(*got->find("audio_soft_tokens")),
                                  g4::tensor_to_f32(*ref->find("audio_soft_tokens"))), 1e-4);
    media += " --audio " + wav;
  }
  r = g4::test::run_cli("logits --model " + dir + " --ids " + g4::test::fixture_ids_csv(dir) + media + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  {
    auto got = g4::SafetensorsFile::open(out);
    EXPECT_LE(g4::test::rel_error(g4::tensor_to_f32(*got->find("logits")), g4::tensor_to_f32(*ref->find("logits"))), 1e-4);
  }
  // The same through llama.cpp's layout: the text GGUF and its projector (vision and audio towers).
  const std::string gguf = temp_path(name + ".gguf"), mmproj = temp_path(name + "-mmproj.gguf");
  r = g4::test::run_cli("convert --quiet --model " + dir + " --out " + gguf + " --mmproj-out " + mmproj);
  ASSERT_EQ(r.status, 0) << r.out;
  r = g4::test::run_cli("logits --model " + gguf + " --mmproj " + mmproj + " --ids " + g4::test::fixture_ids_csv(dir) + media + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  {
    auto got = g4::SafetensorsFile::open(out);
    EXPECT_LE(g4::test::rel_error(g4::tensor_to_f32(*got->find("logits")), g4::tensor_to_f32(*ref->find("logits"))), 1e-4);
  }
  std::remove(gguf.c_str());
  std::remove(mmproj.c_str());
  std::remove(png.c_str());
  std::remove(wav.c_str());
  std::remove(out.c_str());
}

TEST(MediaCli, E2bPngAndWavThroughTheModelMatchFixture) { check_files_through_the_model("g4-e2b-mm", true); }

TEST(MediaCli, A4bPngThroughTheModelMatchesFixture) { check_files_through_the_model("g4-26b-a4b-mm", false); }

TEST(MediaCli, AudioOnAModelWithoutAnAudioTowerIsRefused) {
  const std::string dir = g4::test::fixture("g4-26b-a4b-mm");
  auto ref = g4::SafetensorsFile::open(g4::test::fixture("g4-e2b-mm") + "/reference.safetensors");
  const std::string wav = temp_path("noaudio.wav"), out = temp_path("noaudio.safetensors");
  write_file(wav, tm::encode_wav_f32(g4::tensor_to_f32(*ref->find("waveform_16k")), 16000, 1));
  auto r = g4::test::run_cli("media --model " + dir + " --audio " + wav + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no audio tower"), std::string::npos) << r.out;
  std::remove(wav.c_str());
}

}  // namespace

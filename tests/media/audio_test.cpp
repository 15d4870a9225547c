// Audio: decoding (WAV, FLAC, OGG/Vorbis, MP3 written by libsndfile's encoders), downmix, resampling, and the
// Gemma 4 feature extractor against transformers' input_features for the fixture's waveform_16k.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "media/media.h"
#include "media/media_test_util.h"
#include "test_util.h"

namespace {

using namespace g4::media;
namespace tm = g4::test::media;

std::vector<float> sine(int rate, double seconds, double hz, double amp, int channels = 1) {
  const size_t n = size_t(rate * seconds);
  std::vector<float> s(n * size_t(channels));
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c)
      s[i * size_t(channels) + size_t(c)] = float(amp * std::sin(2 * M_PI * hz * double(i) / rate));
  return s;
}

std::string error_of(const tm::Bytes& bytes, const AudioDecodeLimits& limits = {}) {
  try {
    decode_audio(bytes, limits);
  } catch (const g4::Error& e) {
    return e.what();
  }
  return "";
}

TEST(AudioFeatures, FixtureMatchesReference) {
  const std::string dir = g4::test::fixture("g4-e2b-mm");
  auto ref = g4::SafetensorsFile::open(dir + "/reference.safetensors");
  g4::Json meta = g4::parse_json(g4::read_text_file(dir + "/reference.json"), "reference.json");
  std::vector<float> wave = g4::tensor_to_f32(*ref->find("waveform_16k"));
  Audio a = decode_audio(tm::encode_wav_f32(wave, 16000, 1));
  ASSERT_EQ(a.sample_rate, 16000);
  ASSERT_EQ(a.samples, wave);  // 16 kHz mono float in: passed through unchanged
  AudioFeatures f = extract_audio_features(a, AudioFeatureConfig{});
  std::vector<float> want = g4::tensor_to_f32(*ref->find("input_features"));
  std::vector<int64_t> want_mask = g4::tensor_to_i64(*ref->find("input_features_mask"));
  const auto& shape = ref->find("input_features")->shape;  // [1, frames, 128]
  ASSERT_EQ(f.frames, shape[1]);
  ASSERT_EQ(f.mel_bins, shape[2]);
  double max_err = 0;
  for (size_t i = 0; i < want.size(); ++i)
    max_err = std::max(max_err, double(std::fabs(f.input_features[i] - want[i])));
  std::printf("g4-e2b-mm: input_features max |error| = %.3g\n", max_err);
  EXPECT_LE(max_err, 1e-4);
  ASSERT_EQ(f.mask.size(), want_mask.size());
  for (size_t i = 0; i < want_mask.size(); ++i) EXPECT_EQ(int64_t(f.mask[i]), want_mask[i]) << i;
  EXPECT_EQ(f.num_soft_tokens, meta["n_audio_soft_tokens"].get<int>());
}

TEST(AudioFeatures, ShortClipAndPaddingMask) {
  // 129 samples: padded to 256 (+160 on the left) -> one frame, whose last sample (index 160) is padding.
  Audio a;
  a.samples.assign(129, 0.25f);
  AudioFeatures f = extract_audio_features(a, AudioFeatureConfig{});
  ASSERT_EQ(f.frames, 1);
  EXPECT_EQ(f.mask[0], 0);
  for (float v : f.input_features) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(f.num_soft_tokens, 0);
  // 30 s is the most a clip may hold (750 soft tokens); one sample more is refused.
  a.samples.assign(480000, 0.0f);
  AudioFeatures full = extract_audio_features(a, AudioFeatureConfig{});
  EXPECT_EQ(full.num_soft_tokens, 750);
  a.samples.assign(480001, 0.0f);
  EXPECT_THROW(extract_audio_features(a, AudioFeatureConfig{}), g4::Error);
  // Silence: every bin is log(mel_floor).
  for (int i = 0; i < 128; ++i) EXPECT_NEAR(full.input_features[size_t(i)], std::log(1e-3), 1e-6);
}

TEST(AudioFeatures, ToneLandsInItsMelBin) {
  Audio a;
  a.samples = sine(16000, 0.5, 1000.0, 0.5);
  AudioFeatures f = extract_audio_features(a, AudioFeatureConfig{});
  // HTK mel of 1 kHz = 1000.0 mel; bins are spaced (2595 log10(1 + 8000/700)) / 129 = 21.9 mel apart.
  const float* row = &f.input_features[size_t(20) * 128];
  int best = int(std::max_element(row, row + 128) - row);
  const double mel_1k = 2595.0 * std::log10(1.0 + 1000.0 / 700.0);
  const double spacing = 2595.0 * std::log10(1.0 + 8000.0 / 700.0) / 129.0;
  EXPECT_NEAR(best + 1, mel_1k / spacing, 1.0);
}

TEST(AudioDecode, StereoWavResampledAndDownmixed) {
  // 44.1 kHz stereo: left = 440 Hz sine, right = the same sine -> mono = the sine at 16 kHz.
  auto st = sine(44100, 1.0, 440.0, 0.5, 2);
  Audio a = decode_audio(tm::encode_wav_f32(st, 44100, 2));
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_NEAR(double(a.samples.size()), 16000.0, 2.0);
  auto want = sine(16000, 1.0, 440.0, 0.5);
  double max_err = 0;
  for (size_t i = 1000; i + 1000 < std::min(want.size(), a.samples.size()); ++i)
    max_err = std::max(max_err, double(std::fabs(a.samples[i] - want[i])));
  EXPECT_LT(max_err, 2e-3);  // soxr HQ: delay-compensated, passband flat
  // Downmix is the mean: left 0.5, right -0.1 -> 0.2.
  std::vector<float> dc(2 * 16000);
  for (size_t i = 0; i < dc.size(); i += 2) dc[i] = 0.5f, dc[i + 1] = -0.1f;
  Audio m = decode_audio(tm::encode_wav_f32(dc, 16000, 2));
  EXPECT_NEAR(m.samples[8000], 0.2f, 1e-6);
}

TEST(AudioDecode, FlacOggMp3) {
  auto s = sine(22050, 1.0, 300.0, 0.4, 2);
  for (int format : {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_OGG | SF_FORMAT_VORBIS,
                     SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III}) {
    tm::Bytes file = tm::encode_sndfile(s, 22050, 2, format);
    Audio a = decode_audio(file);
    EXPECT_EQ(a.sample_rate, 16000);
    // MP3 adds encoder delay/padding of a few frames: the length is about right, not exact.
    EXPECT_NEAR(double(a.samples.size()), 16000.0, 1200.0) << format;
    double energy = 0;
    for (float v : a.samples) energy += double(v) * v;
    EXPECT_NEAR(std::sqrt(energy / double(a.samples.size())), 0.4 / std::sqrt(2.0), 0.05) << format;
  }
}

TEST(AudioDecode, LongCorruptAndEmpty) {
  EXPECT_NE(error_of({}).find("empty"), std::string::npos);
  EXPECT_NE(error_of({'n', 'o', 'p', 'e', 0, 1, 2, 3}).find("not a readable"), std::string::npos);
  // 31 s at 8 kHz: the WAV header's length is over the 30 s limit.
  std::string e = error_of(tm::encode_wav_f32(std::vector<float>(31 * 8000, 0.0f), 8000, 1));
  EXPECT_NE(e.find("longer than"), std::string::npos) << e;
  AudioDecodeLimits tight;
  tight.max_seconds = 0.5;
  EXPECT_NE(error_of(tm::encode_wav_f32(sine(16000, 1.0, 100, 0.1), 16000, 1), tight).find("longer than"),
            std::string::npos);
  // A WAV cut inside its header, and one whose data chunk is cut short.
  tm::Bytes wav = tm::encode_wav_f32(sine(16000, 0.1, 100, 0.1), 16000, 1);
  EXPECT_FALSE(error_of(tm::Bytes(wav.begin(), wav.begin() + 20)).empty());
  tm::Bytes mp3 = tm::encode_sndfile(sine(16000, 0.5, 300, 0.3), 16000, 1, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III);
  tm::Bytes garbage(mp3.size(), 0x55);
  EXPECT_FALSE(error_of(garbage).empty());
  // NaN samples are refused rather than passed to the tower.
  std::vector<float> nan(1600, 0.0f);
  nan[10] = NAN;
  EXPECT_NE(error_of(tm::encode_wav_f32(nan, 16000, 1)).find("non-finite"), std::string::npos);
}

}  // namespace

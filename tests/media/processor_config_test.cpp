// Processor settings from processor_config.json / preprocessor_config.json.
#include <gtest/gtest.h>

#include "core/error.h"
#include "media/media.h"
#include "test_util.h"

namespace {

using namespace g4::media;

std::string error_of(const std::string& json) {
  try {
    parse_processor_config(json, "cfg");
  } catch (const g4::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ProcessorConfig, DefaultsAreTransformers) {
  ProcessorConfig c = parse_processor_config("{}", "cfg");
  EXPECT_EQ(c.image.max_soft_tokens, 280);
  EXPECT_EQ(c.image.patch_size, 16);
  EXPECT_EQ(c.image.pooling_kernel_size, 3);
  EXPECT_EQ(c.image.resample, 3);
  EXPECT_FALSE(c.image.do_normalize);
  EXPECT_EQ(c.audio.feature_size, 128);
  EXPECT_EQ(c.audio.sampling_rate, 16000);
  EXPECT_DOUBLE_EQ(c.audio.mel_floor, 1e-3);
  EXPECT_EQ(c.audio.audio_seq_length, 750);
  // The fixtures' folders have no processor file: defaults.
  ProcessorConfig f = load_processor_config(g4::test::fixture("g4-e2b-mm"));
  EXPECT_EQ(f.image.max_soft_tokens, 280);
}

TEST(ProcessorConfig, NestedAndFlat) {
  ProcessorConfig n = parse_processor_config(R"({
    "processor_class": "Gemma4Processor", "audio_seq_length": 500,
    "image_processor": {"image_processor_type": "Gemma4ImageProcessor", "max_soft_tokens": 560,
                        "image_seq_length": 560, "size": {"height": 224, "width": 224}, "do_convert_rgb": true,
                        "do_normalize": true, "image_mean": [0.5, 0.5, 0.5], "image_std": 0.25},
    "feature_extractor": {"feature_size": 80, "mel_floor": 1e-5, "per_bin_mean": null}})", "cfg");
  EXPECT_EQ(n.image.max_soft_tokens, 560);
  EXPECT_TRUE(n.image.do_normalize);
  EXPECT_FLOAT_EQ(n.image.image_mean[2], 0.5f);
  EXPECT_FLOAT_EQ(n.image.image_std[1], 0.25f);
  EXPECT_EQ(n.audio.feature_size, 80);
  EXPECT_DOUBLE_EQ(n.audio.mel_floor, 1e-5);
  EXPECT_EQ(n.audio.audio_seq_length, 500);
  ProcessorConfig f = parse_processor_config(R"({"image_processor_type": "Gemma4ImageProcessor",
                                                 "max_soft_tokens": 140, "resample": 2})", "cfg");
  EXPECT_EQ(f.image.max_soft_tokens, 140);
  EXPECT_EQ(f.image.resample, 2);
}

TEST(ProcessorConfig, RefusesWhatItCannotDo) {
  EXPECT_NE(error_of(R"({"image_processor": {"max_soft_tokens": 100}})").find("max_soft_tokens"), std::string::npos);
  EXPECT_NE(error_of(R"({"image_processor": {"resample": 0}})").find("resample"), std::string::npos);
  EXPECT_NE(error_of(R"({"feature_extractor": {"dither": 0.1}})").find("dither"), std::string::npos);
  EXPECT_NE(error_of(R"({"feature_extractor": {"per_bin_mean": [1, 2]}})").find("per_bin_mean"), std::string::npos);
  EXPECT_NE(error_of(R"({"image_processor": {"patch_size": "16"}})").find("patch_size"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("object"), std::string::npos);
  EXPECT_FALSE(error_of("{").empty());
}

}  // namespace

// The Gemma 4 image processor against transformers' outputs in the multimodal fixtures: the fixture's
// image_rgb_u8 is written as a PNG, decoded and processed; pixel_values and image_position_ids must match.
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

struct ImageCase {
  const char* fixture;
};

class ImageFixture : public ::testing::TestWithParam<ImageCase> {};

TEST_P(ImageFixture, PixelValuesAndPositionsMatchReference) {
  const std::string dir = g4::test::fixture(GetParam().fixture);
  auto ref = g4::SafetensorsFile::open(dir + "/reference.safetensors");
  g4::Json meta = g4::parse_json(g4::read_text_file(dir + "/reference.json"), "reference.json");
  const g4::TensorInfo* rgb = ref->find("image_rgb_u8");
  ASSERT_NE(rgb, nullptr);
  ASSERT_EQ(rgb->shape.size(), 3u);
  const int h = int(rgb->shape[0]), w = int(rgb->shape[1]);
  auto png = g4::test::media::encode_png(rgb->data, w, h, 3);
  Image image = decode_image(png);
  ASSERT_EQ(image.width, w);
  ASSERT_EQ(image.height, h);

  std::vector<float> want = g4::tensor_to_f32(*ref->find("pixel_values"));
  std::vector<int64_t> want_pos = g4::tensor_to_i64(*ref->find("image_position_ids"));
  const auto& pv_shape = ref->find("pixel_values")->shape;  // [1, max_patches, 768]
  // The reference's budget is the one whose max_patches the tensor was padded to.
  const int budget = int(pv_shape[1] / 9);
  ImageFeatures f = preprocess_image(image, ImageProcessorConfig{}, budget);
  EXPECT_EQ(f.max_patches, pv_shape[1]);
  EXPECT_EQ(f.patch_dim, pv_shape[2]);
  EXPECT_EQ(f.num_soft_tokens, meta["n_image_soft_tokens"].get<int>());
  EXPECT_EQ(f.patches_w, 30);  // 80x48 -> 480x288: an up-scale
  EXPECT_EQ(f.patches_h, 18);
  ASSERT_EQ(f.pixel_values.size(), want.size());
  double max_err = 0;
  for (size_t i = 0; i < want.size(); ++i)
    max_err = std::max(max_err, double(std::fabs(f.pixel_values[i] - want[i])));
  std::printf("%s: pixel_values max |error| = %.3g\n", GetParam().fixture, max_err);
  EXPECT_LE(max_err, 1e-4);
  EXPECT_EQ(f.position_ids, want_pos);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ImageFixture,
                         ::testing::Values(ImageCase{"g4-e2b-mm"}, ImageCase{"g4-26b-a4b-mm"}),
                         [](const auto& info) {
                           std::string n = info.param.fixture;
                           for (char& c : n) c = std::isalnum(uint8_t(c)) ? c : '_';
                           return n;
                         });

// Sizes worked out by hand from get_aspect_ratio_preserving_size.
TEST(ImageProcessor, AspectPreservingSizes) {
  ImageProcessorConfig c;
  EXPECT_EQ(aspect_preserving_size(48, 80, c, 70), std::make_pair(288, 480));
  // 1920x1080 at 280: factor sqrt(645120 / 2073600) = 0.5578 -> 602.4 x 1070.9 -> multiples of 48.
  EXPECT_EQ(aspect_preserving_size(1080, 1920, c, 280), std::make_pair(576, 1056));
  // A 1-pixel-high strip keeps one row of 48 and as many columns as the budget's longest side allows.
  EXPECT_EQ(aspect_preserving_size(1, 1000, c, 70), std::make_pair(48, 3360));
  EXPECT_EQ(aspect_preserving_size(1000, 1, c, 70), std::make_pair(3360, 48));
}

TEST(ImageProcessor, BudgetsAndPadding) {
  Image img;
  img.width = 200, img.height = 100;
  img.rgb.assign(size_t(200 * 100 * 3), 128);
  for (int budget : {70, 140, 280, 560, 1120}) {
    ImageFeatures f = preprocess_image(img, ImageProcessorConfig{}, budget);
    EXPECT_EQ(f.max_patches, budget * 9);
    EXPECT_LE(f.num_soft_tokens, budget);
    EXPECT_EQ(f.resized_width % 48, 0);
    EXPECT_EQ(f.resized_height % 48, 0);
    const size_t real = size_t(f.patches_w) * size_t(f.patches_h);
    EXPECT_EQ(f.num_soft_tokens * 9, int(real));
    // A flat grey picture stays flat through the resize: 128 / 255 everywhere, padding rows 0 and ids -1.
    EXPECT_NEAR(f.pixel_values[0], 128.0f / 255.0f, 1e-6);
    EXPECT_NEAR(f.pixel_values[real * 768 - 1], 128.0f / 255.0f, 1e-6);
    if (real < size_t(f.max_patches)) {
      EXPECT_EQ(f.pixel_values[real * 768], 0.0f);
      EXPECT_EQ(f.position_ids[real * 2], -1);
      EXPECT_EQ(f.position_ids[real * 2 + 1], -1);
    }
    // Last real patch: x = patches_w - 1, y = patches_h - 1.
    EXPECT_EQ(f.position_ids[(real - 1) * 2], f.patches_w - 1);
    EXPECT_EQ(f.position_ids[(real - 1) * 2 + 1], f.patches_h - 1);
  }
  EXPECT_THROW(preprocess_image(img, ImageProcessorConfig{}, 100), g4::Error);
}

TEST(ImageProcessor, NormaliseFromConfig) {
  Image img;
  img.width = 48, img.height = 48;
  img.rgb.assign(size_t(48 * 48 * 3), 255);
  ImageProcessorConfig c;
  c.do_normalize = true;
  c.image_mean[0] = c.image_mean[1] = c.image_mean[2] = 0.5f;
  c.image_std[0] = c.image_std[1] = c.image_std[2] = 0.5f;
  ImageFeatures f = preprocess_image(img, c, 70);
  EXPECT_NEAR(f.pixel_values[0], 1.0f, 1e-6);
}

TEST(ImageProcessor, ResizeDownscaleKeepsEdgesAndFlatAreas) {
  // Left half black, right half white; a 4x down-scale keeps the halves flat away from the edge, and the
  // antialiasing filter spreads the step over a few columns around it.
  Image img;
  img.width = 64, img.height = 8;
  img.rgb.resize(size_t(64 * 8 * 3));
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) img.rgb[(size_t(y) * 64 + size_t(x)) * 3 + size_t(c)] = x < 32 ? 0 : 255;
  Image out = resize_image(img, 16, 2, 3);
  ASSERT_EQ(out.width, 16);
  ASSERT_EQ(out.height, 2);
  EXPECT_EQ(out.rgb[0], 0);
  EXPECT_EQ(out.rgb[15 * 3], 255);
  EXPECT_GT(out.rgb[8 * 3], 128);
  EXPECT_LT(out.rgb[7 * 3], 128);
}

}  // namespace

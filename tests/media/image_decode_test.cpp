// Image decoding: every format written by its own encoder and read back, EXIF orientation, alpha on white, and
// corrupt / truncated / hostile files refused with one clear error.
#include <gtest/gtest.h>

#include <chrono>

#include "core/error.h"
#include "media/media.h"
#include "media/media_test_util.h"

namespace {

using namespace g4::media;
namespace tm = g4::test::media;

// A picture with distinct pixels: R = 4x, G = 8y, B = x ^ y.
std::vector<uint8_t> pattern(int w, int h, int channels, uint8_t alpha = 255) {
  std::vector<uint8_t> px(size_t(w) * size_t(h) * size_t(channels));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &px[(size_t(y) * size_t(w) + size_t(x)) * size_t(channels)];
      p[0] = uint8_t(4 * x);
      if (channels >= 3) p[1] = uint8_t(8 * y), p[2] = uint8_t(x ^ y);
      if (channels == 4) p[3] = alpha;
    }
  }
  return px;
}

std::string error_of(const std::vector<uint8_t>& bytes, const DecodeLimits& limits = {}) {
  try {
    decode_image(bytes, limits);
  } catch (const g4::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ImageDecode, PngRgbGrayAndAlpha) {
  auto rgb = pattern(13, 7, 3);
  Image a = decode_image(tm::encode_png(rgb.data(), 13, 7, 3));
  EXPECT_EQ(a.width, 13);
  EXPECT_EQ(a.height, 7);
  EXPECT_EQ(a.rgb, rgb);

  auto gray = pattern(5, 3, 1);
  Image g = decode_image(tm::encode_png(gray.data(), 5, 3, 1));
  for (size_t i = 0; i < gray.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g.rgb[i * 3 + size_t(c)], gray[i]);

  // Alpha on white with PIL's rounding: a = 0 -> white, a = 255 -> the colour, a = 128 over black -> 127.
  std::vector<uint8_t> rgba = {0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 128};
  Image t = decode_image(tm::encode_png(rgba.data(), 3, 1, 4));
  EXPECT_EQ(t.rgb, (std::vector<uint8_t>{255, 255, 255, 10, 20, 30, 127, 127, 127}));
}

TEST(ImageDecode, JpegAndExifOrientation) {
  // 32x16: left half red, right half blue (flat 8x8 blocks survive JPEG almost unchanged).
  std::vector<uint8_t> rgb(32 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 32; ++x) {
      uint8_t* p = &rgb[(size_t(y) * 32 + size_t(x)) * 3];
      p[0] = x < 16 ? 255 : 0, p[1] = 0, p[2] = x < 16 ? 0 : 255;
    }
  auto near = [](const uint8_t* p, int r, int g, int b) {
    return std::abs(p[0] - r) < 24 && std::abs(p[1] - g) < 24 && std::abs(p[2] - b) < 24;
  };
  Image plain = decode_image(tm::encode_jpeg(rgb.data(), 32, 16, 95));
  ASSERT_EQ(plain.width, 32);
  ASSERT_EQ(plain.height, 16);
  EXPECT_TRUE(near(&plain.rgb[0], 255, 0, 0));
  EXPECT_TRUE(near(&plain.rgb[31 * 3], 0, 0, 255));
  // Orientation 6 = rotate 90 degrees clockwise: 16 wide, 32 high, the left (red) half on top.
  Image r6 = decode_image(tm::encode_jpeg(rgb.data(), 32, 16, 95, tm::exif_orientation_app1(6)));
  ASSERT_EQ(r6.width, 16);
  ASSERT_EQ(r6.height, 32);
  EXPECT_TRUE(near(&r6.rgb[0], 255, 0, 0));
  EXPECT_TRUE(near(&r6.rgb[(31 * 16 + 15) * 3], 0, 0, 255));
  // Orientation 8 = rotate counter-clockwise: the right (blue) half on top.
  Image r8 = decode_image(tm::encode_jpeg(rgb.data(), 32, 16, 95, tm::exif_orientation_app1(8)));
  ASSERT_EQ(r8.width, 16);
  EXPECT_TRUE(near(&r8.rgb[0], 0, 0, 255));
  // Orientation 3 = rotate 180: blue on the left.
  Image r3 = decode_image(tm::encode_jpeg(rgb.data(), 32, 16, 95, tm::exif_orientation_app1(3)));
  ASSERT_EQ(r3.width, 32);
  EXPECT_TRUE(near(&r3.rgb[0], 0, 0, 255));
  // A broken EXIF block is ignored (the picture itself is fine).
  tm::Bytes bad = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0xff, 0xff, 0xff, 0x7f};
  Image rb = decode_image(tm::encode_jpeg(rgb.data(), 32, 16, 95, bad));
  EXPECT_EQ(rb.width, 32);
}

TEST(ImageDecode, PngExifOrientation) {
  auto rgb = pattern(5, 3, 3);
  tm::Bytes app1 = tm::exif_orientation_app1(8);
  Image r = decode_image(tm::encode_png_with_exif(rgb.data(), 5, 3, tm::Bytes(app1.begin() + 6, app1.end())));
  ASSERT_EQ(r.width, 3);
  ASSERT_EQ(r.height, 5);
  // Rotated counter-clockwise: the output's top-left pixel is the input's top-right one.
  EXPECT_EQ(r.rgb[0], rgb[4 * 3]);
  EXPECT_EQ(r.rgb[1], rgb[4 * 3 + 1]);
  EXPECT_EQ(r.rgb[2], rgb[4 * 3 + 2]);
}

TEST(ImageDecode, AdobeCmykJpeg) {
  // Stored (inverted, Adobe) inks 255, 0, 255, 255 = C 0, M 255, Y 0, K 0: magenta, as PIL converts it.
  const uint8_t cmyk[4] = {255, 0, 255, 255};
  Image m = decode_image(tm::encode_jpeg_cmyk(cmyk, 16, 16));
  ASSERT_EQ(m.width, 16);
  EXPECT_NEAR(m.rgb[0], 255, 3);
  EXPECT_NEAR(m.rgb[1], 0, 3);
  EXPECT_NEAR(m.rgb[2], 255, 3);
}

TEST(ImageDecode, WebpLossless) {
  auto rgba = pattern(9, 6, 4);
  Image w = decode_image(tm::encode_webp_lossless(rgba.data(), 9, 6));
  EXPECT_EQ(w.rgb, pattern(9, 6, 3));
}

TEST(ImageDecode, GifFirstFrameWithTransparency) {
  std::vector<uint8_t> palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
  std::vector<uint8_t> idx = {0, 1, 2, 3, 3, 2, 1, 0};
  Image g = decode_image(tm::encode_gif(idx, 4, 2, palette, 3));
  ASSERT_EQ(g.width, 4);
  ASSERT_EQ(g.height, 2);
  std::vector<uint8_t> want = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255,
                               255, 255, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0};
  EXPECT_EQ(g.rgb, want);
  // A 1x1 image at (1, 0) of a 2x1 screen: outside it, palette entry 0 (red) without transparency...
  Image o = decode_image(tm::encode_gif({1}, 1, 1, palette, -1, 2, 1, 1, 0));
  EXPECT_EQ(o.rgb, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0}));
  // ... and white (transparent) with it.
  Image t = decode_image(tm::encode_gif({1}, 1, 1, palette, 3, 2, 1, 1, 0));
  EXPECT_EQ(t.rgb, (std::vector<uint8_t>{255, 255, 255, 0, 255, 0}));
}

TEST(ImageDecode, Bmp) {
  auto rgb = pattern(7, 5, 3);  // 7 * 3 = 21 bytes a row: padded to 24
  Image b = decode_image(tm::encode_bmp24(rgb.data(), 7, 5));
  EXPECT_EQ(b.width, 7);
  EXPECT_EQ(b.rgb, rgb);
  // 8-bit palette, top-down (negative height), 2x2.
  tm::Bytes p = {'B', 'M'};
  tm::put32(p, 0), tm::put32(p, 0), tm::put32(p, 14 + 40 + 8);
  tm::put32(p, 40), tm::put32(p, 2), tm::put32(p, uint32_t(-2)), tm::put16(p, 1), tm::put16(p, 8);
  tm::put32(p, 0), tm::put32(p, 0), tm::put32(p, 0), tm::put32(p, 0), tm::put32(p, 2), tm::put32(p, 0);
  for (uint8_t v : {0, 0, 255, 0, 255, 0, 0, 0}) p.push_back(v);  // palette (BGRX): red, blue
  for (uint8_t v : {0, 1, 0, 0, 1, 1, 0, 0}) p.push_back(v);      // rows padded to 4 bytes
  Image pb = decode_image(p);
  EXPECT_EQ(pb.rgb, (std::vector<uint8_t>{255, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255}));
  // RLE is refused by name.
  tm::Bytes rle = p;
  rle[14 + 16] = 1;
  EXPECT_NE(error_of(rle).find("RLE"), std::string::npos);
}

// A PNG signature and IHDR claiming width x height (valid CRC), and nothing else: a "bomb" header.
tm::Bytes png_header(uint32_t w, uint32_t h) {
  tm::Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  tm::Bytes chunk = {'I', 'H', 'D', 'R'};
  for (uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) chunk.push_back(uint8_t(v >> s));
  }
  for (uint8_t v : {8, 2, 0, 0, 0}) chunk.push_back(v);
  uint32_t crc = 0xffffffffu;
  for (uint8_t c : chunk) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  crc ^= 0xffffffffu;
  b.insert(b.end(), chunk.begin(), chunk.end());
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(crc >> s));
  // A few bytes of a (would-be) IDAT so the stream is not merely cut after the header.
  for (int v : {0, 0, 0, 2, int('I'), int('D'), int('A'), int('T'), 0x78, 0x9c, 0, 0, 0, 0}) b.push_back(uint8_t(v));
  return b;
}

TEST(ImageDecode, BombsAreRefusedFromTheHeader) {
  auto t0 = std::chrono::steady_clock::now();
  std::string png = error_of(png_header(50000, 50000));
  EXPECT_NE(png.find("over the limit"), std::string::npos) << png;
  // JPEG: SOI + SOF0 claiming 60000 x 60000, 3 components, + SOS: a complete header and no data.
  tm::Bytes jpg = {0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xea, 0x60, 0xea, 0x60, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0,
                   0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0};
  std::string j = error_of(jpg);
  EXPECT_NE(j.find("over the limit"), std::string::npos) << j;
  // GIF: logical screen 65535 x 65535.
  tm::Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0};
  EXPECT_NE(error_of(gif).find("over the limit"), std::string::npos) << error_of(gif);
  // WebP (lossless): a VP8L header claiming 16384 x 16384.
  tm::Bytes webp = {'R', 'I', 'F', 'F', 26, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L', 14, 0, 0, 0,
                    0x2f, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(error_of(webp).find("over the limit"), std::string::npos) << error_of(webp);
  // BMP: 40000 x 40000, 24-bit, 54 bytes in all.
  tm::Bytes bmp = {'B', 'M'};
  tm::put32(bmp, 54), tm::put32(bmp, 0), tm::put32(bmp, 54);
  tm::put32(bmp, 40), tm::put32(bmp, 40000), tm::put32(bmp, 40000), tm::put16(bmp, 1), tm::put16(bmp, 24);
  for (int i = 0; i < 6; ++i) tm::put32(bmp, 0);
  EXPECT_NE(error_of(bmp).find("over the limit"), std::string::npos) << error_of(bmp);
  // A caller's tighter limits apply the same way.
  auto rgb = pattern(64, 64, 3);
  DecodeLimits small;
  small.max_pixels = 1000;
  EXPECT_NE(error_of(tm::encode_png(rgb.data(), 64, 64, 3), small).find("over the limit"), std::string::npos);
  small = {};
  small.max_bytes = 10;
  EXPECT_NE(error_of(tm::encode_png(rgb.data(), 64, 64, 3), small).find("bytes"), std::string::npos);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 2.0);  // refused from the headers, nothing decoded
}

TEST(ImageDecode, CorruptTruncatedAndWrongMagic) {
  EXPECT_NE(error_of({}).find("empty"), std::string::npos);
  EXPECT_NE(error_of({'h', 'e', 'l', 'l', 'o'}).find("not a PNG"), std::string::npos);
  auto rgb = pattern(40, 30, 3);
  auto png = tm::encode_png(rgb.data(), 40, 30, 3);
  auto jpg = tm::encode_jpeg(rgb.data(), 40, 30, 90);
  auto rgba = pattern(40, 30, 4);
  auto webp = tm::encode_webp_lossless(rgba.data(), 40, 30);
  auto bmp = tm::encode_bmp24(rgb.data(), 40, 30);
  std::vector<uint8_t> idx(40 * 30, 1);
  auto gif = tm::encode_gif(idx, 40, 30, {0, 0, 0, 255, 255, 255});
  for (const auto* file : {&png, &jpg, &webp, &bmp, &gif}) {
    for (size_t keep : {size_t(10), file->size() / 2}) {
      tm::Bytes cut(file->begin(), file->begin() + long(keep));
      std::string e = error_of(cut);
      EXPECT_NE(e.find(image_format_name(sniff_image_format(*file))), std::string::npos)
          << keep << " bytes of a " << image_format_name(sniff_image_format(*file)) << ": " << e;
    }
  }
  EXPECT_NE(error_of(tm::Bytes(png.begin(), png.begin() + 40)).find("PNG"), std::string::npos);
  EXPECT_NE(error_of(tm::Bytes(bmp.begin(), bmp.begin() + 100)).find("truncated"), std::string::npos);
  // Corrupt compressed data inside a PNG: flip bytes of the IDAT payload.
  tm::Bytes bad = png;
  for (size_t i = 45; i < bad.size() - 20; i += 7) bad[i] ^= 0x5a;
  EXPECT_NE(error_of(bad).find("PNG"), std::string::npos);
}

TEST(ImageDecode, SniffsByContent) {
  auto rgb = pattern(4, 4, 3);
  EXPECT_EQ(sniff_image_format(tm::encode_png(rgb.data(), 4, 4, 3)), ImageFormat::Png);
  EXPECT_EQ(sniff_image_format(tm::encode_jpeg(rgb.data(), 4, 4, 90)), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_image_format(tm::encode_bmp24(rgb.data(), 4, 4)), ImageFormat::Bmp);
  EXPECT_EQ(sniff_image_format(tm::Bytes{'G', 'I', 'F', '8', '9', 'a'}), ImageFormat::Gif);
  EXPECT_EQ(sniff_image_format(tm::Bytes{'x'}), ImageFormat::Unknown);
}

}  // namespace

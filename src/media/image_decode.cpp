// Image decoding entry points and what all formats share: format sniffing, size limits, alpha on white and
// EXIF orientation. The format decoders live in image_decode_<format>.cpp.
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "media/image_decode_internal.h"

namespace g4::media {

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::WebP: return "WebP";
    case ImageFormat::Gif: return "GIF";
    case ImageFormat::Bmp: return "BMP";
    default: return "unknown";
  }
}

ImageFormat sniff_image_format(std::span<const uint8_t> b) {
  auto starts = [&](const char* magic, size_t n, size_t at = 0) {
    return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
  };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::Png;
  if (starts("\xff\xd8\xff", 3)) return ImageFormat::Jpeg;
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return ImageFormat::WebP;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return ImageFormat::Gif;
  if (starts("BM", 2)) return ImageFormat::Bmp;
  return ImageFormat::Unknown;
}

Image decode_image(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  check(!bytes.empty(), "image: the data is empty");
  check(bytes.size() <= limits.max_bytes, "image: " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                                              std::to_string(limits.max_bytes) + " bytes");
  switch (sniff_image_format(bytes)) {
    case ImageFormat::Png: return detail::decode_png(bytes, limits);
    case ImageFormat::Jpeg: return detail::decode_jpeg(bytes, limits);
    case ImageFormat::WebP: return detail::decode_webp(bytes, limits);
    case ImageFormat::Gif: return detail::decode_gif(bytes, limits);
    case ImageFormat::Bmp: return detail::decode_bmp(bytes, limits);
    default: break;
  }
  throw Error("image: not a PNG, JPEG, WebP, GIF or BMP file (unrecognised header)");
}

static std::vector<uint8_t> read_bounded(const std::string& path, uint64_t max_bytes, const char* what) {
  std::ifstream f(path, std::ios::binary);
  check(bool(f), std::string(what) + " " + path + ": cannot open");
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  check(size >= 0, std::string(what) + " " + path + ": cannot read its size");
  check(uint64_t(size) <= max_bytes, std::string(what) + " " + path + ": " + std::to_string(size) +
                                         " bytes is over the limit of " + std::to_string(max_bytes) + " bytes");
  std::vector<uint8_t> data(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0) f.read(reinterpret_cast<char*>(data.data()), size);
  check(bool(f), std::string(what) + " " + path + ": read error");
  return data;
}

Image read_image_file(const std::string& path, const DecodeLimits& limits) {
  std::vector<uint8_t> data = read_bounded(path, limits.max_bytes, "image");
  try {
    return decode_image(data, limits);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

namespace detail {

std::vector<uint8_t> read_file_bounded(const std::string& path, uint64_t max_bytes, const char* what) {
  return read_bounded(path, max_bytes, what);
}

std::string image_size_problem(uint64_t width, uint64_t height, const DecodeLimits& limits, const char* format) {
  std::string dims = std::to_string(width) + " x " + std::to_string(height);
  if (width == 0 || height == 0) return std::string(format) + ": empty image (" + dims + ")";
  if (width > limits.max_side || height > limits.max_side)
    return std::string(format) + ": " + dims + " pixels: a side is over the limit of " +
           std::to_string(limits.max_side);
  if (width * height > limits.max_pixels)
    return std::string(format) + ": " + dims + " pixels is over the limit of " + std::to_string(limits.max_pixels) +
           " pixels";
  return "";
}

void check_image_size(uint64_t width, uint64_t height, const DecodeLimits& limits, const char* format) {
  std::string problem = image_size_problem(width, height, limits, format);
  if (!problem.empty()) throw Error(problem);
}

Image rgba_on_white(int width, int height, const std::vector<uint8_t>& rgba) {
  // PIL's ImagingAlphaComposite with an opaque white destination (PRECISION_BITS 7): coef1 = a * 128,
  // coef2 = (255 - a) * 128, out = SHIFTFORDIV255(src * coef1 + 255 * coef2 + (0x80 << 7)) >> 7.
  Image out;
  out.width = width;
  out.height = height;
  size_t n = size_t(width) * size_t(height);
  out.rgb.resize(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = &rgba[i * 4];
    uint32_t a = s[3];
    uint32_t coef1 = a * 128, coef2 = (255 - a) * 128;
    for (int c = 0; c < 3; ++c) {
      uint32_t tmp = s[c] * coef1 + 255 * coef2 + (0x80u << 7);
      uint32_t div255 = ((tmp >> 8) + tmp) >> 8;
      out.rgb[i * 3 + c] = uint8_t(div255 >> 7);
    }
  }
  return out;
}

int exif_orientation(std::span<const uint8_t> t) {
  if (t.size() < 8) return 1;
  bool le;
  if (t[0] == 'I' && t[1] == 'I') le = true;
  else if (t[0] == 'M' && t[1] == 'M') le = false;
  else return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return le ? uint32_t(t[at]) | uint32_t(t[at + 1]) << 8 : uint32_t(t[at]) << 8 | uint32_t(t[at + 1]);
  };
  auto u32 = [&](size_t at) -> uint32_t {
    return le ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  uint64_t ifd = u32(4);
  if (ifd + 2 > t.size()) return 1;
  uint32_t count = u16(size_t(ifd));
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t e = ifd + 2 + uint64_t(i) * 12;
    if (e + 12 > t.size()) return 1;
    if (u16(size_t(e)) != 0x0112) continue;
    if (u16(size_t(e) + 2) != 3 || u32(size_t(e) + 4) < 1) return 1;  // SHORT, at least one value
    uint32_t v = u16(size_t(e) + 8);
    return v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

Image apply_orientation(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int W = in.width, H = in.height;
  const bool swap = orientation >= 5;
  Image out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.rgb.resize(in.rgb.size());
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = W - 1 - x; break;                    // mirror horizontally
        case 3: sx = W - 1 - x; sy = H - 1 - y; break;    // rotate 180
        case 4: sy = H - 1 - y; break;                    // mirror vertically
        case 5: sx = y; sy = x; break;                    // transpose
        case 6: sx = y; sy = H - 1 - x; break;            // rotate 90 clockwise
        case 7: sx = W - 1 - y; sy = H - 1 - x; break;    // transverse
        case 8: sx = W - 1 - y; sy = x; break;            // rotate 90 counter-clockwise
      }
      std::memcpy(&out.rgb[(size_t(y) * out.width + x) * 3], &in.rgb[(size_t(sy) * W + sx) * 3], 3);
    }
  }
  return out;
}

}  // namespace detail
}  // namespace g4::media

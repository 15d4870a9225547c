// BMP: a small reader of our own. Debian has no maintained library dedicated to BMP (the alternatives are
// ImageMagick / gdk-pixbuf, far larger attack surfaces, or a 2022 snapshot of stb_image); BMP is a plain raster,
// so this reads only what can be read with a few bounds checks and refuses the rest by name.
// Supported: BITMAPCOREHEADER and BITMAPINFOHEADER..V5; 1/4/8-bit palettes; 16/24/32-bit (BI_RGB, BI_BITFIELDS,
// BI_ALPHABITFIELDS); bottom-up and top-down rows. Refused: RLE4/RLE8, embedded JPEG/PNG, OS/2 2.x headers.
// Alpha follows PIL: only a bit-field alpha mask makes a 32-bit BMP transparent (BI_RGB 32-bit is BGRX).
#include <bit>
#include <cstring>

#include "core/error.h"
#include "media/image_decode_internal.h"

namespace g4::media::detail {

namespace {

uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

// One channel of a bit-field pixel, widened to 8 bits by repeating its bits (PIL's 5/6-bit unpackers do this).
uint8_t field(uint32_t px, uint32_t mask) {
  if (mask == 0) return 0;
  int shift = std::countr_zero(mask);
  int bits = std::popcount(mask >> shift);
  uint32_t v = (px & mask) >> shift;
  if (bits >= 8) return uint8_t(v >> (bits - 8));
  uint32_t out = 0;
  int have = 0;
  for (; have < 8; have += bits) out = (out << bits) | v;
  return uint8_t(out >> (have - 8));
}

}  // namespace

Image decode_bmp(std::span<const uint8_t> b, const DecodeLimits& limits) {
  const size_t n = b.size();
  check(n >= 14 + 12, "BMP: the file is truncated (no header)");
  const uint8_t* p = b.data();
  const uint64_t pixel_offset = le32(p + 10);
  const uint32_t hsize = le32(p + 14);
  check(hsize == 12 || hsize == 40 || hsize == 52 || hsize == 56 || hsize == 108 || hsize == 124,
        "BMP: unsupported header size " + std::to_string(hsize) + " (OS/2 2.x bitmaps are not supported)");
  check(14 + uint64_t(hsize) <= n, "BMP: the file is truncated (inside the header)");
  const uint8_t* h = p + 14;
  int64_t width, height;
  uint32_t bpp, compression = 0, colors_used = 0;
  if (hsize == 12) {
    width = le16(h + 4);
    height = int16_t(le16(h + 6));
    bpp = le16(h + 10);
  } else {
    width = int32_t(le32(h + 4));
    height = int32_t(le32(h + 8));
    bpp = le16(h + 14);
    compression = le32(h + 16);
    colors_used = le32(h + 32);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  check(width > 0 && height > 0, "BMP: invalid size " + std::to_string(width) + " x " + std::to_string(height));
  check_image_size(uint64_t(width), uint64_t(height), limits, "BMP");
  if (compression == 1 || compression == 2) throw Error("BMP: RLE-compressed bitmaps are not supported");
  if (compression == 4 || compression == 5) throw Error("BMP: bitmaps holding JPEG or PNG data are not supported");
  check(compression == 0 || compression == 3 || compression == 6,
        "BMP: unsupported compression " + std::to_string(compression));
  check(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32,
        "BMP: unsupported bit depth " + std::to_string(bpp));

  // Channel masks: defaults, then bit fields from the header (V2+) or the 12/16 bytes after a 40-byte header.
  uint32_t rm = 0, gm = 0, bm = 0, am = 0;
  if (bpp == 16) rm = 0x7c00, gm = 0x03e0, bm = 0x001f;
  if (bpp == 24 || bpp == 32) rm = 0xff0000, gm = 0x00ff00, bm = 0x0000ff;
  size_t palette_at = 14 + hsize;
  if (compression == 3 || compression == 6) {
    check(bpp == 16 || bpp == 32, "BMP: bit fields need 16 or 32 bits per pixel");
    const size_t nmasks = compression == 6 ? 4 : 3;
    const uint8_t* m = h + 40;
    check(hsize != 52 || nmasks == 3, "BMP: an alpha bit field does not fit a 52-byte header");
    if (hsize == 40) {
      check(palette_at + nmasks * 4 <= n, "BMP: the file is truncated (inside the bit fields)");
      m = p + palette_at;
      palette_at += nmasks * 4;
    }
    rm = le32(m), gm = le32(m + 4), bm = le32(m + 8);
    if (nmasks == 4 || hsize >= 56) am = le32(m + 12);
  }

  std::vector<uint8_t> palette;  // RGB triples
  if (bpp <= 8) {
    const uint64_t max_colors = 1u << bpp;
    const uint64_t colors = colors_used == 0 ? max_colors : colors_used;
    check(colors <= max_colors, "BMP: palette of " + std::to_string(colors) + " colors for " + std::to_string(bpp) +
                                    " bits per pixel");
    const size_t entry = hsize == 12 ? 3 : 4;
    check(palette_at + colors * entry <= n, "BMP: the file is truncated (inside the palette)");
    palette.assign(max_colors * 3, 0);
    for (size_t i = 0; i < colors; ++i) {
      const uint8_t* e = p + palette_at + i * entry;
      palette[i * 3] = e[2], palette[i * 3 + 1] = e[1], palette[i * 3 + 2] = e[0];
    }
  }

  const uint64_t stride = ((uint64_t(width) * bpp + 31) / 32) * 4;
  check(pixel_offset <= n && stride * uint64_t(height) <= n - pixel_offset,
        "BMP: the file is truncated (pixel data: " + std::to_string(stride * uint64_t(height)) + " bytes expected)");
  const size_t W = size_t(width), H = size_t(height);
  std::vector<uint8_t> rgba(W * H * 4);
  for (size_t y = 0; y < H; ++y) {
    const uint8_t* row = p + pixel_offset + (top_down ? y : H - 1 - y) * stride;
    uint8_t* out = &rgba[y * W * 4];
    for (size_t x = 0; x < W; ++x, out += 4) {
      if (bpp <= 8) {
        size_t bit = x * bpp;
        uint32_t idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
        std::memcpy(out, &palette[idx * 3], 3);
        out[3] = 255;
      } else if (bpp == 24 && compression == 0) {
        out[0] = row[x * 3 + 2], out[1] = row[x * 3 + 1], out[2] = row[x * 3], out[3] = 255;
      } else {
        uint32_t px = bpp == 16 ? le16(row + x * 2) : le32(row + x * 4);
        out[0] = field(px, rm), out[1] = field(px, gm), out[2] = field(px, bm);
        out[3] = am ? field(px, am) : 255;
      }
    }
  }
  return rgba_on_white(int(W), int(H), rgba);
}

}  // namespace g4::media::detail

#pragma once
// Encoders for the media tests: the tests write their inputs with the codec libraries' own encoders (or, for
// BMP, WAV and hostile headers, byte by byte) and check what the decoders make of them.
#include <cmath>
#include <cstdint>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <sndfile.h>
#include <unistd.h>
#include <webp/encode.h>

namespace g4::test::media {

using Bytes = std::vector<uint8_t>;

// channels: 1 (gray), 3 (RGB), 4 (RGBA).
inline Bytes encode_png(const uint8_t* px, int w, int h, int channels) {
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  img.width = uint32_t(w);
  img.height = uint32_t(h);
  img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, px, 0, nullptr)) throw std::runtime_error("png size");
  Bytes out(size);
  if (!png_image_write_to_memory(&img, out.data(), &size, 0, px, 0, nullptr)) throw std::runtime_error("png write");
  out.resize(size);
  return out;
}

// An RGB PNG carrying an eXIf chunk (a TIFF block) after the header, through libpng's full writer.
inline Bytes encode_png_with_exif(const uint8_t* rgb, int w, int h, const Bytes& tiff) {
  struct Sink {
    static void write(png_structp png, png_bytep data, png_size_t n) {
      auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
      out->insert(out->end(), data, data + n);
    }
    static void flush(png_structp) {}
  };
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, Sink::write, Sink::flush);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  Bytes exif = tiff;
  png_set_eXIf_1(png, info, png_uint_32(exif.size()), exif.data());
  png_write_info(png, info);
  for (int y = 0; y < h; ++y) png_write_row(png, const_cast<uint8_t*>(rgb + size_t(y) * size_t(w) * 3));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A CMYK JPEG (libjpeg writes the Adobe marker for it) of `w` x `h` pixels all equal to `cmyk` as stored.
inline Bytes encode_jpeg_cmyk(const uint8_t cmyk[4], int w, int h) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<uint8_t> row(size_t(w) * 4);
  for (int x = 0; x < w; ++x) std::memcpy(&row[size_t(x) * 4], cmyk, 4);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(buf, buf + size);
  free(buf);
  return out;
}

// RGB JPEG at `quality`; `app1` (if any) is written as an APP1 marker (e.g. "Exif\0\0" + TIFF block).
inline Bytes encode_jpeg(const uint8_t* rgb, int w, int h, int quality, const Bytes& app1 = {}) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  if (!app1.empty()) jpeg_write_marker(&c, JPEG_APP0 + 1, app1.data(), unsigned(app1.size()));
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb + size_t(c.next_scanline) * size_t(w) * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(buf, buf + size);
  free(buf);
  return out;
}

// An EXIF APP1 payload holding only the orientation tag (little-endian TIFF).
inline Bytes exif_orientation_app1(int orientation) {
  Bytes b = {'E', 'x', 'i', 'f', 0, 0,  'I', 'I', 42, 0, 8, 0, 0, 0,  // TIFF header, IFD0 at 8
             1, 0,                                                     // one entry
             0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(orientation), 0, 0, 0,  // 0x0112 SHORT x1
             0, 0, 0, 0};                                                  // no next IFD
  return b;
}

inline Bytes encode_webp_lossless(const uint8_t* rgba, int w, int h) {
  uint8_t* out = nullptr;
  size_t n = WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out);
  if (n == 0) throw std::runtime_error("webp encode");
  Bytes b(out, out + n);
  WebPFree(out);
  return b;
}

// A GIF of `w` x `h` palette indices with a `colors`-entry palette (RGB triples); `transparent` >= 0 adds a
// graphic control extension marking that index transparent.
inline Bytes encode_gif(const std::vector<uint8_t>& idx, int w, int h, const std::vector<uint8_t>& palette,
                        int transparent = -1, int screen_w = 0, int screen_h = 0, int left = 0, int top = 0) {
  struct Sink {
    static int write(GifFileType* g, const GifByteType* data, int n) {
      auto* out = static_cast<Bytes*>(g->UserData);
      out->insert(out->end(), data, data + n);
      return n;
    }
  };
  Bytes out;
  int err = 0;
  GifFileType* g = EGifOpen(&out, Sink::write, &err);
  int colors = int(palette.size() / 3);
  ColorMapObject* cmap = GifMakeMapObject(colors, nullptr);
  for (int i = 0; i < colors; ++i) {
    cmap->Colors[i].Red = palette[size_t(i) * 3];
    cmap->Colors[i].Green = palette[size_t(i) * 3 + 1];
    cmap->Colors[i].Blue = palette[size_t(i) * 3 + 2];
  }
  EGifSetGifVersion(g, true);
  EGifPutScreenDesc(g, screen_w ? screen_w : w, screen_h ? screen_h : h, 8, 0, cmap);
  if (transparent >= 0) {
    GifByteType gce[4] = {1, 0, 0, GifByteType(transparent)};
    EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, gce);
  }
  EGifPutImageDesc(g, left, top, w, h, false, nullptr);
  std::vector<GifPixelType> line(static_cast<size_t>(w));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) line[size_t(x)] = idx[size_t(y) * size_t(w) + size_t(x)];
    EGifPutLine(g, line.data(), w);
  }
  EGifCloseFile(g, &err);
  GifFreeMapObject(cmap);
  return out;
}

inline void put16(Bytes& b, uint32_t v) { b.push_back(uint8_t(v)), b.push_back(uint8_t(v >> 8)); }
inline void put32(Bytes& b, uint32_t v) { put16(b, v & 0xffff), put16(b, v >> 16); }

// A bottom-up 24-bit BI_RGB BMP of an RGB image.
inline Bytes encode_bmp24(const uint8_t* rgb, int w, int h) {
  const uint32_t stride = (uint32_t(w) * 3 + 3) / 4 * 4;
  Bytes b = {'B', 'M'};
  put32(b, 54 + stride * uint32_t(h)), put32(b, 0), put32(b, 54);
  put32(b, 40), put32(b, uint32_t(w)), put32(b, uint32_t(h)), put16(b, 1), put16(b, 24);
  put32(b, 0), put32(b, stride * uint32_t(h)), put32(b, 2835), put32(b, 2835), put32(b, 0), put32(b, 0);
  for (int y = h - 1; y >= 0; --y) {
    size_t start = b.size();
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = rgb + (size_t(y) * size_t(w) + size_t(x)) * 3;
      b.push_back(p[2]), b.push_back(p[1]), b.push_back(p[0]);
    }
    while (b.size() - start < stride) b.push_back(0);
  }
  return b;
}

// A 32-bit float mono/interleaved WAV (WAVE_FORMAT_IEEE_FLOAT).
inline Bytes encode_wav_f32(const std::vector<float>& samples, int rate, int channels) {
  Bytes b = {'R', 'I', 'F', 'F'};
  const uint32_t data_bytes = uint32_t(samples.size() * 4);
  put32(b, 36 + data_bytes);
  for (char c : std::string("WAVEfmt ")) b.push_back(uint8_t(c));
  put32(b, 16), put16(b, 3), put16(b, uint32_t(channels)), put32(b, uint32_t(rate));
  put32(b, uint32_t(rate * channels * 4)), put16(b, uint32_t(channels * 4)), put16(b, 32);
  for (char c : std::string("data")) b.push_back(uint8_t(c));
  put32(b, data_bytes);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(samples.data());
  b.insert(b.end(), p, p + data_bytes);
  return b;
}

// Any libsndfile format (FLAC, OGG/Vorbis, MP3, ...) through a temporary file; `interleaved` has `channels`.
inline Bytes encode_sndfile(const std::vector<float>& interleaved, int rate, int channels, int format) {
  char path[] = "/tmp/g4_media_test_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp");
  close(fd);
  SF_INFO info;
  std::memset(&info, 0, sizeof(info));
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path, SFM_WRITE, &info);
  if (!f) throw std::runtime_error(std::string("sf_open for writing: ") + sf_strerror(nullptr));
  sf_writef_float(f, interleaved.data(), sf_count_t(interleaved.size() / size_t(channels)));
  sf_close(f);
  FILE* in = std::fopen(path, "rb");
  Bytes out;
  int c;
  while ((c = std::fgetc(in)) != EOF) out.push_back(uint8_t(c));
  std::fclose(in);
  std::remove(path);
  return out;
}

}  // namespace g4::test::media

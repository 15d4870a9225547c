// PNG (libpng) and JPEG (libjpeg-turbo) decoding. Both libraries report errors through longjmp: the setjmp
// frames below hold only plain data whose cleanup happens after the jump, and no C++ object with a destructor
// lives in a frame the jump crosses (the read callbacks are plain functions over a span).
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

// clang-format off
#include <png.h>
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "core/error.h"
#include "media/image_decode_internal.h"

namespace g4::media::detail {

// ------------------------------------------------------------------------------------------------ PNG

namespace {

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[200];
};

void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "the file is truncated");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

void png_on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof(src->message), "%s", msg);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // warnings (bad CRC in ancillary chunks...) are not errors

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  PngSource src{bytes.data(), bytes.size(), 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
  check(png != nullptr, "PNG: out of memory");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    throw Error("PNG: out of memory");
  }
  std::vector<uint8_t> rgba;
  std::vector<png_bytep> rows;
  std::vector<uint8_t> exif;
  png_uint_32 width = 0, height = 0;
  std::string size_error;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    if (!size_error.empty()) throw Error(size_error);
    throw Error(std::string("PNG: ") + (src.message[0] ? src.message : "corrupt data"));
  }
  png_set_read_fn(png, &src, png_read_mem);
  // Dimensions are judged by check_image_size below (libpng allocates no pixel rows before png_read_update_info);
  // libpng's own default cap would answer first with a vaguer "Invalid IHDR data". Memory for any one ancillary
  // chunk (zTXt / iCCP bombs) is capped here.
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_set_chunk_malloc_max(png, 8u << 20);
  png_read_info(png, info);
  width = png_get_image_width(png, info);
  height = png_get_image_height(png, info);
  size_error = image_size_problem(width, height, limits, "PNG");
  if (!size_error.empty()) png_error(png, "size");  // jumps to the cleanup above, which throws size_error
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  // Everything to 8-bit RGBA: palette and low-depth gray expanded, tRNS to alpha, 16-bit to its high byte (as PIL's
  // 16 -> 8 bit conversion), gray to RGB, opaque images get alpha 255.
  png_set_expand(png);
  if (depth == 16) png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
  if (!(color & PNG_COLOR_MASK_ALPHA) && !png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_filler(png, 0xff, PNG_FILLER_AFTER);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != size_t(width) * 4) png_error(png, "unexpected row layout after conversion");
  rgba.resize(size_t(width) * height * 4);
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) rows[y] = rgba.data() + size_t(y) * width * 4;
  png_read_image(png, rows.data());
  png_read_end(png, info);  // an eXIf chunk may also follow the image data
#ifdef PNG_eXIf_SUPPORTED
  png_bytep exif_data = nullptr;
  png_uint_32 exif_size = 0;
  if (png_get_eXIf_1(png, info, &exif_size, &exif_data) && exif_data) exif.assign(exif_data, exif_data + exif_size);
#endif
  png_destroy_read_struct(&png, &info, nullptr);
  Image image = rgba_on_white(int(width), int(height), rgba);
  return exif.empty() ? image : apply_orientation(image, exif_orientation(exif));
}

// ------------------------------------------------------------------------------------------------ JPEG

namespace {

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings about damaged entropy data are tolerated (as PIL does), but a stream that ends early is an error:
// libjpeg would fill the missing rows with grey.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegError*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "the file is truncated");
    std::longjmp(err->jump, 1);
  }
}

// A progressive JPEG may hold thousands of scans that each re-walk the whole image (a CPU "bomb" of a few KB);
// libjpeg-turbo's own advice is to cap them through the progress monitor.
constexpr int kMaxJpegScans = 500;

struct JpegProgress {
  jpeg_progress_mgr mgr;
  JpegError* err;
};

void jpeg_on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegError*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

constexpr int kExifMarker = JPEG_APP0 + 1;

// The TIFF block of the first APP1 "Exif\0\0" marker, if any.
std::span<const uint8_t> find_exif(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == kExifMarker && m->data_length >= 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0)
      return {m->data + 6, m->data_length - 6};
  }
  return {};
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  JpegProgress progress;
  std::memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  err.message[0] = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> exif;
  std::string size_error;
  bool cmyk = false;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    if (!size_error.empty()) throw Error(size_error);
    throw Error(std::string("JPEG: ") + (err.message[0] ? err.message : "corrupt data"));
  }
  jpeg_create_decompress(&cinfo);
  progress.mgr.progress_monitor = jpeg_on_progress;
  progress.err = &err;
  cinfo.progress = &progress.mgr;
  cinfo.mem->max_memory_to_use = 1024L << 20;
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, kExifMarker, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  size_error = image_size_problem(cinfo.image_width, cinfo.image_height, limits, "JPEG");
  if (!size_error.empty()) std::longjmp(err.jump, 1);  // to the cleanup above, which throws size_error
  cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo converts gray and YCbCr to RGB itself
  jpeg_start_decompress(&cinfo);
  const int comps = cinfo.output_components;
  const size_t W = cinfo.output_width, H = cinfo.output_height;
  if (comps != (cmyk ? 4 : 3)) {
    std::snprintf(err.message, sizeof(err.message), "unexpected %d output components", comps);
    std::longjmp(err.jump, 1);
  }
  pixels.resize(W * H * size_t(comps));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels.data() + size_t(cinfo.output_scanline) * W * size_t(comps);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  std::span<const uint8_t> exif_block = find_exif(&cinfo);
  exif.assign(exif_block.begin(), exif_block.end());
  const bool adobe_inverted = cinfo.saw_Adobe_marker;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);

  Image image;
  image.width = int(W);
  image.height = int(H);
  if (!cmyk) {
    image.rgb = std::move(pixels);
  } else {
    // PIL's reading: Adobe CMYK JPEGs hold inverted inks ("CMYK;I"); then its cmyk2rgb,
    // out = 255 - k - muldiv255(c, 255 - k), with muldiv255(a, b) = (t + (t >> 8)) >> 8, t = a * b + 128.
    image.rgb.resize(W * H * 3);
    for (size_t i = 0; i < W * H; ++i) {
      const uint8_t* p = &pixels[i * 4];
      const int nk = 255 - (adobe_inverted ? 255 - p[3] : p[3]);
      for (int c = 0; c < 3; ++c) {
        const int ink = adobe_inverted ? 255 - p[c] : p[c];
        const int t = ink * nk + 128;
        image.rgb[i * 3 + size_t(c)] = uint8_t(std::clamp(nk - ((t + (t >> 8)) >> 8), 0, 255));
      }
    }
  }
  return apply_orientation(image, exif_orientation(exif));
}

}  // namespace g4::media::detail

// WebP (libwebp; animated files through libwebpdemux's frame decoder, first frame) and GIF (giflib, first frame).
#include <gif_lib.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include <cstring>
#include <memory>

#include "core/error.h"
#include "media/image_decode_internal.h"

namespace g4::media::detail {

// ------------------------------------------------------------------------------------------------ WebP

namespace {

// The TIFF block of the file's EXIF chunk (some writers keep the JPEG-style "Exif\0\0" prefix).
std::vector<uint8_t> webp_exif(const WebPData& data) {
  std::unique_ptr<WebPDemuxer, void (*)(WebPDemuxer*)> demux(WebPDemux(&data), WebPDemuxDelete);
  std::vector<uint8_t> out;
  if (!demux || !(WebPDemuxGetI(demux.get(), WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG)) return out;
  WebPChunkIterator it;
  if (WebPDemuxGetChunk(demux.get(), "EXIF", 1, &it)) {
    const uint8_t* p = it.chunk.bytes;
    size_t n = it.chunk.size;
    if (n >= 6 && std::memcmp(p, "Exif\0\0", 6) == 0) p += 6, n -= 6;
    out.assign(p, p + n);
    WebPDemuxReleaseChunkIterator(&it);
  }
  return out;
}

}  // namespace

Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  WebPBitstreamFeatures f;
  check(WebPGetFeatures(bytes.data(), bytes.size(), &f) == VP8_STATUS_OK, "WebP: invalid or truncated header");
  WebPData data{bytes.data(), bytes.size()};
  std::vector<uint8_t> rgba;
  int width = 0, height = 0;
  if (f.has_animation) {
    WebPAnimDecoderOptions opts;
    check(WebPAnimDecoderOptionsInit(&opts) != 0, "WebP: library version mismatch");
    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;
    // The canvas size is checked before the decoder allocates it.
    std::unique_ptr<WebPDemuxer, void (*)(WebPDemuxer*)> demux(WebPDemux(&data), WebPDemuxDelete);
    check(demux != nullptr, "WebP: corrupt animation container");
    width = int(WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_WIDTH));
    height = int(WebPDemuxGetI(demux.get(), WEBP_FF_CANVAS_HEIGHT));
    check_image_size(uint64_t(width), uint64_t(height), limits, "WebP");
    std::unique_ptr<WebPAnimDecoder, void (*)(WebPAnimDecoder*)> dec(WebPAnimDecoderNew(&data, &opts),
                                                                      WebPAnimDecoderDelete);
    check(dec != nullptr, "WebP: corrupt animation");
    uint8_t* frame = nullptr;
    int timestamp = 0;
    check(WebPAnimDecoderGetNext(dec.get(), &frame, &timestamp) && frame, "WebP: cannot decode the first frame");
    rgba.assign(frame, frame + size_t(width) * size_t(height) * 4);
  } else {
    width = f.width;
    height = f.height;
    check_image_size(uint64_t(width), uint64_t(height), limits, "WebP");
    rgba.resize(size_t(width) * size_t(height) * 4);
    check(WebPDecodeRGBAInto(bytes.data(), bytes.size(), rgba.data(), rgba.size(), width * 4) != nullptr,
          "WebP: corrupt or truncated image data");
  }
  Image image = rgba_on_white(width, height, rgba);
  std::vector<uint8_t> exif = webp_exif(data);
  return exif.empty() ? image : apply_orientation(image, exif_orientation(exif));
}

// ------------------------------------------------------------------------------------------------ GIF

namespace {

struct GifSource {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
};

int gif_read(GifFileType* gif, GifByteType* out, int n) {
  auto* src = static_cast<GifSource*>(gif->UserData);
  size_t take = std::min(size_t(n < 0 ? 0 : n), src->bytes.size() - src->pos);
  std::memcpy(out, src->bytes.data() + src->pos, take);
  src->pos += take;
  return int(take);
}

struct GifCloser {
  void operator()(GifFileType* g) const {
    int err = 0;
    DGifCloseFile(g, &err);
  }
};

std::string gif_error(GifFileType* gif, const char* what) {
  const char* msg = GifErrorString(gif->Error);
  return std::string("GIF: ") + what + ": " + (msg ? msg : "corrupt data");
}

}  // namespace

// The first image of the file on its logical screen (PIL's first frame), its transparent pixels white.
Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  GifSource src{bytes, 0};
  int err = 0;
  std::unique_ptr<GifFileType, GifCloser> gif(DGifOpen(&src, gif_read, &err));
  if (!gif) {
    const char* msg = GifErrorString(err);
    throw Error(std::string("GIF: ") + (msg ? msg : "invalid header"));
  }
  const int W = gif->SWidth, H = gif->SHeight;
  check_image_size(uint64_t(std::max(W, 0)), uint64_t(std::max(H, 0)), limits, "GIF");
  int transparent = -1;
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif.get(), &type) == GIF_ERROR) throw Error(gif_error(gif.get(), "reading a record"));
    if (type == TERMINATE_RECORD_TYPE) throw Error("GIF: the file holds no image");
    if (type == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* ext = nullptr;
      if (DGifGetExtension(gif.get(), &code, &ext) == GIF_ERROR) throw Error(gif_error(gif.get(), "an extension"));
      // Graphic control extension: [size=4, flags, delay lo, delay hi, transparent index].
      if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) transparent = (ext[1] & 1) ? ext[4] : -1;
      while (ext) {
        if (DGifGetExtensionNext(gif.get(), &ext) == GIF_ERROR) throw Error(gif_error(gif.get(), "an extension"));
      }
      continue;
    }
    if (type != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) throw Error(gif_error(gif.get(), "the image descriptor"));
    const GifImageDesc& d = gif->Image;
    check_image_size(uint64_t(std::max(d.Width, 0)), uint64_t(std::max(d.Height, 0)), limits, "GIF frame");
    const ColorMapObject* cmap = d.ColorMap ? d.ColorMap : gif->SColorMap;
    check(cmap != nullptr && cmap->ColorCount > 0, "GIF: the first image has no color table");
    // The screen outside the first image is what PIL shows there: the transparent index when the image has one
    // (white after compositing), else palette entry 0 (PIL's zero-filled "P" canvas).
    std::vector<uint8_t> rgba(size_t(W) * size_t(H) * 4, 0);
    if (transparent < 0) {
      const GifColorType& c0 = cmap->Colors[0];
      for (size_t i = 0; i < rgba.size(); i += 4) {
        rgba[i] = c0.Red, rgba[i + 1] = c0.Green, rgba[i + 2] = c0.Blue, rgba[i + 3] = 255;
      }
    }
    std::vector<GifPixelType> line(size_t(d.Width));
    // Interlaced images arrive in four passes of rows.
    static const int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
    const int passes = d.Interlace ? 4 : 1;
    for (int p = 0; p < passes; ++p) {
      int start = d.Interlace ? kStart[p] : 0, step = d.Interlace ? kStep[p] : 1;
      for (int y = start; y < d.Height; y += step) {
        if (DGifGetLine(gif.get(), line.data(), d.Width) == GIF_ERROR)
          throw Error(gif_error(gif.get(), "the image data"));
        int sy = d.Top + y;
        if (sy < 0 || sy >= H) continue;
        for (int x = 0; x < d.Width; ++x) {
          int sx = d.Left + x;
          int idx = line[size_t(x)];
          if (sx < 0 || sx >= W || idx == transparent) continue;
          uint8_t* o = &rgba[(size_t(sy) * W + sx) * 4];
          if (idx < cmap->ColorCount) {
            o[0] = cmap->Colors[idx].Red, o[1] = cmap->Colors[idx].Green, o[2] = cmap->Colors[idx].Blue;
          }  // an index past the table is black, as browsers show it
          o[3] = 255;
        }
      }
    }
    return rgba_on_white(W, H, rgba);
  }
}

}  // namespace g4::media::detail

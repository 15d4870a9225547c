#pragma once
// Shared pieces of the image decoders (not part of the public API).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "media/media.h"

namespace g4::media::detail {

// Reads a whole file, refusing it (from its size, before reading) when over max_bytes; `what` labels errors.
std::vector<uint8_t> read_file_bounded(const std::string& path, uint64_t max_bytes, const char* what);

// Throws unless width x height is non-empty and inside the limits. Called with header values, before any
// pixel buffer is allocated.
void check_image_size(uint64_t width, uint64_t height, const DecodeLimits& limits, const char* format);
// The same test as a message ("" when the size is fine), for decoders that must not throw from inside a library.
std::string image_size_problem(uint64_t width, uint64_t height, const DecodeLimits& limits, const char* format);

// RGBA (straight alpha) -> RGB composited on white with PIL's Image.alpha_composite integer arithmetic.
Image rgba_on_white(int width, int height, const std::vector<uint8_t>& rgba);

// The EXIF orientation (1..8) in a TIFF-structured EXIF block (starting at "II*\0" / "MM\0*"), 1 when absent or
// unreadable: a broken EXIF block never fails an otherwise good image.
int exif_orientation(std::span<const uint8_t> tiff);
// Applies an EXIF orientation as PIL.ImageOps.exif_transpose does (2..8 flip/rotate; 1 and others: no change).
Image apply_orientation(const Image& image, int orientation);

Image decode_png(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_webp(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& limits);
Image decode_bmp(std::span<const uint8_t> bytes, const DecodeLimits& limits);

}  // namespace g4::media::detail

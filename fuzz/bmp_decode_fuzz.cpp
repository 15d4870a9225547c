// libFuzzer target for our own BMP reader (the one decoder not from a Debian library): inputs always start with
// "BM" so every run reaches its header, palette and bit-field parsing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "media/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bmp = {'B', 'M'};
  bmp.insert(bmp.end(), data, data + size);
  g4::media::DecodeLimits limits;
  limits.max_side = 2048;
  limits.max_pixels = 1u << 18;
  try {
    g4::media::Image img = g4::media::decode_image(bmp, limits);
    if (img.rgb.size() != size_t(img.width) * size_t(img.height) * 3) __builtin_trap();
  } catch (const g4::Error&) {
  }
  return 0;
}

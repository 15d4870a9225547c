// libFuzzer target: every image decoder (PNG, JPEG, WebP, GIF, BMP; chosen by the input's magic bytes) must
// refuse malformed input with g4::Error, never crash, read out of bounds or allocate past the limits. Limits
// are small here so that the fuzzer explores parsing rather than large allocations. A decoded image also goes
// through the Gemma 4 image processor (resize, patches) at the smallest budget (for a sixteenth of the inputs: speed).
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "media/media.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g4::media::DecodeLimits limits;
  limits.max_side = 2048;
  limits.max_pixels = 1u << 18;
  try {
    g4::media::Image img = g4::media::decode_image({data, size}, limits);
    if (img.rgb.size() != size_t(img.width) * size_t(img.height) * 3) __builtin_trap();
    // The processor's output is the budget's size whatever the input (~60 ms under ASan): one input in 16.
    if (size % 16 == 0) g4::media::preprocess_image(img, {}, 70);
  } catch (const g4::Error&) {
  }
  return 0;
}

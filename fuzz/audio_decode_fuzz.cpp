// libFuzzer target: audio decoding (libsndfile: WAV, FLAC, OGG/Vorbis, MP3, ...; downmix; libsoxr) and the
// Gemma 4 feature extractor must refuse malformed input with g4::Error, never crash or run past the limits.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "media/media.h"

// Debian 12's libsndfile 1.2.0 leaks libvorbis' header state (vorbis_info_init, ~6 KB) when an Ogg stream's
// Vorbis headers are malformed; that leak is in the library, not here, so LeakSanitizer is told to skip exactly
// that allocation site (ours stay checked).
extern "C" const char* __lsan_default_suppressions() { return "leak:vorbis_info_init\n"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g4::media::AudioDecodeLimits limits;
  limits.max_seconds = 0.5;  // keeps each run short; the limit logic is the same as at 30 s
  try {
    g4::media::Audio a = g4::media::decode_audio({data, size}, limits);
    g4::media::extract_audio_features(a, {});
  } catch (const g4::Error&) {
  }
  return 0;
}

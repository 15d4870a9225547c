// libFuzzer target: an audio projector GGUF (llama.cpp mmproj, "gemma4a") from arbitrary bytes must load
// and encode a few frames, or throw g4::Error: no crash, no out-of-bounds read, no allocation beyond what
// the file's own tensors imply.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/audio_tower.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::shared_ptr<const g4::GgufFile> file = g4::GgufFile::parse(data, size, "fuzz.gguf");
    std::shared_ptr<g4::WeightSource> source = g4::open_mmproj_audio_weights(file);
    g4::AudioConfig config = g4::audio_config_from_mmproj(*file, *source);
    g4::AudioTower tower(config, source, true);
    const int64_t mel = tower.config().n_mel, frames = 9;
    if (mel < 1 || mel > 4096) return 0;
    std::vector<float> features(size_t(frames * mel), 0.25f);
    std::vector<uint8_t> mask(size_t(frames), 1);
    mask.back() = 0;
    g4::AudioSoftTokens out = tower.encode(features.data(), frames, mel, mask.data());
    volatile float keep = out.data.empty() ? 0.0f : out.data[0];
    (void)keep;
  } catch (const g4::Error&) {
  }
  return 0;
}

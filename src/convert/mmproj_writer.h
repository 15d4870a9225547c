#pragma once
// Writes the media towers of a Hugging Face folder as llama.cpp's multimodal projector GGUF ("mmproj",
// general.architecture = "clip"): the vision projector (gemma4v) in the layout model/mmproj_gguf.h describes
// and reads, and the audio tower (gemma4a) in the layout model/audio_tower_gguf.cpp describes and reads.
#include <cstddef>
#include <string>
#include <vector>

#include "model/audio_tower.h"
#include "model/weight_source.h"

namespace g4 {

class GgufWriter;

struct MmprojReport {
  bool written = false;
  size_t n_tensors = 0;
  size_t bytes = 0;
  std::vector<std::string> notes;   // towers left out, and why
};

// Writes the towers of a Hugging Face folder as a projector GGUF at `out` (vision: gemma4v). Matrices keep
// their stored type (F32/F16/BF16), the patch kernel and position table are F32, vectors F32. A folder
// without towers writes nothing and says so in the report.
MmprojReport write_mmproj_gguf(const std::string& model_dir, const std::string& out);

// Whether a Hugging Face folder's config.json has a vision or audio tower.
bool has_media_towers(const std::string& model_dir);

// Adds the tower's metadata (clip.has_audio_encoder, clip.audio.*) and tensors from `source` (Hugging Face
// names) to `w` in llama.cpp's mmproj layout. The caller sets general.architecture = "clip" and the rest of
// the file (the vision projector, if any).
void add_audio_tower_to_gguf(GgufWriter& w, const AudioConfig& config, const WeightSource& source);

}  // namespace g4

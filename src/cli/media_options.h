#pragma once
// The media options shared by the commands that run a model: --mmproj (llama.cpp's projector GGUF
// beside a GGUF model), --image / --audio (repeatable, in order), --image-tokens (the soft-token budget).
#include <string>

#include "cli/args.h"
#include "runtime/media_input.h"

namespace g4::cli {

// --mmproj, --image-tokens and --media-math (default `math`: exact for the commands that compare with the
// reference, fast for those that answer); with `files`, also --image FILE and --audio FILE (repeatable).
void add_media_options(Args& args, bool files, TowerMath math);
std::string mmproj_from_args(const Args& args);   // "" when not given
// --image-tokens (0: the default budget) and --media-math.
MediaEncoding media_encoding_from_args(const Args& args);
// The --image / --audio files, encoded with the model's towers, images first then audio, each in order.
MediaList media_from_args(const Args& args, const Model& model);

}  // namespace g4::cli

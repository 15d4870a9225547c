#include "cli/media_options.h"

#include "core/error.h"

namespace g4::cli {

void add_media_options(Args& args, bool files) {
  args.option("mmproj", "FILE", "llama.cpp multimodal projector GGUF (vision/audio towers) for the model")
      .option("image-tokens", "N", "soft tokens per image: 70, 140, 280 (default), 560 or 1120");
  if (files)
    args.option("image", "FILE", "an image for the prompt (repeatable; in order)")
        .option("audio", "FILE", "an audio clip for the prompt (repeatable; in order; E2B/E4B only)");
}

std::string mmproj_from_args(const Args& args) { return args.has("mmproj") ? args.get("mmproj") : ""; }

int image_tokens_from_args(const Args& args) {
  if (!args.has("image-tokens")) return 0;
  return image_token_budget(int(args.get_int("image-tokens")));
}

MediaList media_from_args(const Args& args, const Model& model) {
  MediaList out;
  const int budget = image_tokens_from_args(args);
  for (const std::string& f : args.get_all("image")) out.push_back(encode_image_file(model, f, budget));
  for (const std::string& f : args.get_all("audio")) out.push_back(encode_audio_file(model, f));
  return out;
}

}  // namespace g4::cli

#include "cli/media_options.h"

#include "core/error.h"

namespace g4::cli {

void add_media_options(Args& args, bool files, TowerMath math) {
  args.option("mmproj", "FILE", "llama.cpp multimodal projector GGUF (vision/audio towers) for the model")
      .option("image-tokens", "N", "soft tokens per image: 70, 140, 280 (default), 560 or 1120")
      .option("media-math", "M",
              "the vision tower's arithmetic: exact (f32 products, the reference) or fast (bf16 activations on the "
              "CPU's bf16 units, bf16 attention tiles; about 4x faster, within about 1% of exact); "
              "the audio tower is always exact",
              false, math == TowerMath::Fast ? "fast" : "exact");
  if (files)
    args.option("image", "FILE", "an image for the prompt (repeatable; in order)")
        .option("audio", "FILE", "an audio clip for the prompt (repeatable; in order; E2B/E4B only)");
}

std::string mmproj_from_args(const Args& args) { return args.has("mmproj") ? args.get("mmproj") : ""; }

MediaEncoding media_encoding_from_args(const Args& args) {
  MediaEncoding e;
  if (args.has("image-tokens")) e.image_tokens = image_token_budget(int(args.get_int("image-tokens")));
  const std::string m = args.get("media-math");
  if (m == "fast") e.math = TowerMath::Fast;
  else if (m != "exact") throw Error("--media-math must be 'exact' or 'fast', not '" + m + "'");
  return e;
}

MediaList media_from_args(const Args& args, const Model& model) {
  MediaList out;
  const MediaEncoding enc = media_encoding_from_args(args);
  for (const std::string& f : args.get_all("image")) out.push_back(encode_image_file(model, f, enc));
  for (const std::string& f : args.get_all("audio")) out.push_back(encode_audio_file(model, f));
  return out;
}

}  // namespace g4::cli

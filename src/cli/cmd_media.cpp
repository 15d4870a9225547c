// gemma4 media: an image or an audio clip through the model's processor into a safetensors file, with the
// names and shapes of the reference fixtures (pixel_values [1, P, 768], image_position_ids [1, P, 2];
// input_features [1, T, 128], input_features_mask [1, T]).
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/media_options.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "media/media.h"
#include "model/audio_tower.h"
#include "model/model.h"
#include "runtime/media_input.h"

namespace {

g4::TensorToWrite make_i64_tensor(const std::string& name, std::vector<int64_t> shape, const int64_t* values) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  g4::TensorToWrite t{name, g4::DType::I64, std::move(shape), {}};
  t.bytes.resize(size_t(n) * sizeof(int64_t));
  if (n > 0) std::memcpy(t.bytes.data(), values, t.bytes.size());
  return t;
}

int run_media(int argc, char** argv) {
  g4::cli::Args args("media", "Run an image or an audio clip through the model's processor (as transformers' "
                              "Gemma 4 processor does) and write the tensors to a safetensors file.");
  args.option("model", "PATH", "model folder (its processor_config.json / preprocessor_config.json) or file", true)
      .option("image", "FILE", "image file: PNG, JPEG, WebP, GIF (first frame) or BMP")
      .option("audio", "FILE", "audio file: WAV, FLAC, OGG/Vorbis or MP3 (at most 30 s)")
      .option("out", "FILE", "output .safetensors file", true)
      .flag("no-soft-tokens", "write the processor's output only (no tower run, no model weights read)");
  g4::cli::add_media_options(args, false, g4::TowerMath::Exact);  // --mmproj, --image-tokens, --media-math
  if (!args.parse(argc, argv)) return args.exit_code();
  const bool image = args.has("image"), audio = args.has("audio");
  if (image == audio) throw g4::Error("media: give exactly one of --image FILE or --audio FILE");
  if (audio && args.has("image-tokens")) throw g4::Error("media: --image-tokens applies to --image only");
  auto t0 = std::chrono::steady_clock::now();
  g4::media::ProcessorConfig cfg = g4::media::load_processor_config(args.get("model"));
  std::vector<g4::TensorToWrite> out;
  std::map<std::string, std::string> meta;
  // The towers (and the decoder, which carries them) only when soft tokens are asked for.
  std::unique_ptr<g4::Model> model;
  if (!args.has("no-soft-tokens")) model = g4::load_model(args.get("model"), args.has("mmproj") ? args.get("mmproj") : "");
  if (image) {
    int budget = 0;
    if (args.has("image-tokens")) {
      long long n = args.get_int("image-tokens");
      if (!g4::media::is_supported_soft_token_budget(int(n)))
        throw g4::Error("--image-tokens " + std::to_string(n) + ": must be 70, 140, 280, 560 or 1120");
      budget = int(n);
    }
    g4::media::Image img = g4::media::read_image_file(args.get("image"));
    g4::media::ImageFeatures f = g4::media::preprocess_image(img, cfg.image, budget);
    out.push_back(g4::make_f32_tensor("pixel_values", {1, f.max_patches, f.patch_dim}, f.pixel_values.data()));
    out.push_back(make_i64_tensor("image_position_ids", {1, f.max_patches, 2}, f.position_ids.data()));
    meta["num_soft_tokens"] = std::to_string(f.num_soft_tokens);
    if (model) {
      std::vector<int32_t> pos(f.position_ids.begin(), f.position_ids.end());
      auto em = g4::encode_pixels(*model, f.pixel_values.data(), pos.data(), f.max_patches, "image '" + args.get("image") + "'",
                                   g4::cli::media_encoding_from_args(args).math);
      const int64_t H = em->n_tokens > 0 ? int64_t(em->soft.size()) / em->n_tokens : 0;
      out.push_back(g4::make_f32_tensor("image_soft_tokens", {em->n_tokens, H}, em->soft.data()));
    }
    std::fprintf(stderr, "image %dx%d -> %dx%d: %d patches, %d soft tokens\n", img.width, img.height,
                 f.resized_width, f.resized_height, f.patches_w * f.patches_h, f.num_soft_tokens);
  } else {
    g4::media::Audio clip = g4::media::read_audio_file(args.get("audio"), {}, cfg.audio.sampling_rate);
    g4::media::AudioFeatures f = g4::media::extract_audio_features(clip, cfg.audio);
    out.push_back(g4::make_f32_tensor("input_features", {1, f.frames, f.mel_bins}, f.input_features.data()));
    std::vector<int64_t> mask(f.mask.begin(), f.mask.end());
    out.push_back(make_i64_tensor("input_features_mask", {1, f.frames}, mask.data()));
    meta["num_soft_tokens"] = std::to_string(f.num_soft_tokens);
    if (model) {
      const g4::MultimodalModel* mm = model->media();
      if (!mm || !mm->audio)
        throw g4::Error("media: the model " + args.get("model") + " has no audio tower (Gemma 4 26B and 31B take images, not audio)");
      const auto& tower = dynamic_cast<const g4::AudioTower&>(*mm->audio);
      g4::AudioSoftTokens soft = tower.encode(f.input_features.data(), f.frames, f.mel_bins, f.mask.data());
      out.push_back(g4::make_f32_tensor("audio_soft_tokens", {soft.n, soft.dim}, soft.data.data()));
    }
    std::fprintf(stderr, "audio %.2f s -> %d frames, %d soft tokens\n",
                 double(clip.samples.size()) / clip.sample_rate, f.frames, f.num_soft_tokens);
  }
  g4::write_safetensors(args.get("out"), out, meta);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "wrote %zu tensors to %s (%.3f s)\n", out.size(), args.get("out").c_str(), secs);
  return 0;
}

}  // namespace

G4_COMMAND("media", "an image or audio clip through the model's processor into a safetensors file", run_media);

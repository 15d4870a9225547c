#pragma once
// Media input for Gemma 4's vision and audio towers: decoding untrusted image/audio files and turning them
// into exactly the tensors transformers 5.17's Gemma 4 processors produce.
//
//   bytes --decode_image--> Image (RGB u8) --preprocess_image--> ImageFeatures (pixel_values, position ids)
//   bytes --decode_audio--> Audio (mono f32 @16 kHz) --extract_audio_features--> AudioFeatures (log-mel, mask)
//
// Every function here throws g4::Error with one clear message on bad input (wrong magic, truncated or corrupt
// stream, sizes over the limits, unsupported variants named). Sizes are checked from headers before any large
// allocation, so a few-KB "decompression bomb" never allocates its claimed size.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace g4::media {

// ---------------------------------------------------------------------------------------------------------
// Images

// Bounds applied while decoding, before allocating pixels. Defaults suit a local CLI; a server passes its own.
struct DecodeLimits {
  uint64_t max_bytes = 64ull << 20;     // encoded file size
  uint32_t max_side = 32768;            // width or height
  uint64_t max_pixels = 50'000'000ull;  // width * height (a 50 MP phone photo fits; RGB buffer <= 150 MB)
};

enum class ImageFormat { Unknown, Png, Jpeg, WebP, Gif, Bmp };
const char* image_format_name(ImageFormat f);
// Recognises the format from the first bytes (magic numbers), never from a file name.
ImageFormat sniff_image_format(std::span<const uint8_t> bytes);

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, height * width * 3 bytes (R, G, B)
};

// Decodes PNG, JPEG, WebP, GIF (first frame) or BMP. The result is RGB u8 with the JPEG EXIF orientation applied
// (as transformers' load_image does with PIL.ImageOps.exif_transpose) and any alpha composited on white (as
// transformers' convert_to_rgb does with PIL's alpha_composite, same integer rounding).
Image decode_image(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});
// Reads a file (bounded by limits.max_bytes) and decodes it; errors name the path.
Image read_image_file(const std::string& path, const DecodeLimits& limits = {});

// Gemma4ImageProcessor's settings (transformers 5.17 defaults). Read from a model folder's processor_config.json
// ("image_processor" object) or preprocessor_config.json; keys that change the output and that this code does
// not implement are refused by name.
struct ImageProcessorConfig {
  int patch_size = 16;
  int max_soft_tokens = 280;  // one of 70, 140, 280, 560, 1120
  int pooling_kernel_size = 3;
  bool do_resize = true;
  int resample = 3;  // PIL codes: 3 = bicubic (default), 2 = bilinear; both antialiased like torchvision
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = false;
  float image_mean[3] = {0.f, 0.f, 0.f};
  float image_std[3] = {1.f, 1.f, 1.f};
};
// The supported soft-token budgets.
bool is_supported_soft_token_budget(int n);

struct ImageFeatures {
  int max_patches = 0;     // rows of pixel_values (= budget * pooling_kernel_size^2)
  int patch_dim = 0;       // 3 * patch_size^2 (768)
  int patches_w = 0, patches_h = 0;  // real patch grid; num_patches = patches_w * patches_h
  int num_soft_tokens = 0;           // num_patches / pooling_kernel_size^2: placeholders for this image
  int resized_width = 0, resized_height = 0;
  std::vector<float> pixel_values;   // [max_patches, patch_dim]: per patch (row, col, channel); padding rows 0
  std::vector<int64_t> position_ids; // [max_patches, 2]: (x, y) of each patch; padding rows (-1, -1)
};

// Aspect-preserving target size (height, width) for a budget, as get_aspect_ratio_preserving_size.
std::pair<int, int> aspect_preserving_size(int height, int width, const ImageProcessorConfig& cfg, int max_soft_tokens);

// The Gemma 4 image processor: resize (torchvision's antialiased uint8 bicubic, bit-exact), rescale (and optional
// normalise), 16x16 patches with (x, y) ids, padding to max_patches. soft_token_budget 0 = cfg.max_soft_tokens.
ImageFeatures preprocess_image(const Image& image, const ImageProcessorConfig& cfg, int soft_token_budget = 0);

// The resize alone (exposed for tests and tools): torchvision.transforms.v2.functional.resize on a uint8 image
// with antialias=True (CPU uint8 path: int16 fixed-point weights, width pass then height pass).
Image resize_image(const Image& image, int out_width, int out_height, int resample = 3);

// ---------------------------------------------------------------------------------------------------------
// Audio

struct AudioDecodeLimits {
  uint64_t max_bytes = 256ull << 20;  // encoded file size
  double max_seconds = 30.0;          // longer audio is refused (Gemma 4 takes at most 30 s per clip: 750 tokens)
  int max_channels = 64;
};

struct Audio {
  int sample_rate = 16000;
  std::vector<float> samples;  // mono
};

// Decodes WAV, FLAC, OGG/Vorbis, MP3 (and whatever else libsndfile reads) from memory, downmixes to mono (mean of
// the channels) and resamples to target_rate with libsoxr (high quality). Errors: unreadable data, no frames,
// longer than limits.max_seconds.
Audio decode_audio(std::span<const uint8_t> bytes, const AudioDecodeLimits& limits = {}, int target_rate = 16000);
Audio read_audio_file(const std::string& path, const AudioDecodeLimits& limits = {}, int target_rate = 16000);

// Gemma4AudioFeatureExtractor's settings (transformers 5.17 defaults), from processor_config.json
// ("feature_extractor" object) or preprocessor_config.json.
struct AudioFeatureConfig {
  int feature_size = 128;  // mel bins
  int sampling_rate = 16000;
  double frame_length_ms = 20.0;
  double hop_length_ms = 10.0;
  double min_frequency = 0.0;
  double max_frequency = 8000.0;
  double preemphasis = 0.0;
  bool preemphasis_htk_flavor = true;
  bool fft_overdrive = false;
  double input_scale_factor = 1.0;
  double mel_floor = 1e-3;
  std::vector<double> per_bin_mean, per_bin_stddev;  // empty = none
  int64_t max_length = 480000;      // samples (30 s); longer input is an error here, not a silent truncation
  int pad_to_multiple_of = 128;     // samples
  int audio_seq_length = 750;       // processor's cap on soft tokens per clip
};

struct AudioFeatures {
  int frames = 0, mel_bins = 0;
  std::vector<float> input_features;  // [frames, mel_bins]; masked frames are 0
  std::vector<uint8_t> mask;          // [frames]: 1 = frame lies entirely in real audio
  int num_soft_tokens = 0;            // placeholders for this clip (mask after the two stride-2 convs, capped)
};

// The Gemma 4 audio feature extractor: pad to a multiple of 128 samples, semicausal framing (320 + 1 samples,
// hop 160), optional preemphasis, periodic Hann window, |rfft 512|, HTK mel filter bank, log(x + mel_floor),
// optional per-bin normalisation, frame mask. Audio must already be at cfg.sampling_rate.
AudioFeatures extract_audio_features(const Audio& audio, const AudioFeatureConfig& cfg);

// ---------------------------------------------------------------------------------------------------------
// Configuration from a model folder (processor_config.json, else preprocessor_config.json, else defaults).
// A GGUF path or a folder without these files yields the defaults.

struct ProcessorConfig {
  ImageProcessorConfig image;
  AudioFeatureConfig audio;
};
ProcessorConfig load_processor_config(const std::string& model_path);
// Parses the JSON text of either file (exposed for tests and fuzzing); `what` labels errors.
ProcessorConfig parse_processor_config(const std::string& json_text, const std::string& what);

}  // namespace g4::media

// Processor settings from a Hugging Face folder. transformers 5 saves one processor_config.json with nested
// "image_processor" / "feature_extractor" objects; older saves have a flat preprocessor_config.json. Settings
// that would change the tensors and that this code does not implement are refused by name.
#include <filesystem>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "media/media.h"

namespace g4::media {

namespace {

template <typename T>
void read_num(const Json& j, const char* key, T& out, const std::string& what) {
  if (!j.contains(key) || j[key].is_null()) return;
  check(j[key].is_number(), what + ": \"" + key + "\" must be a number");
  out = j[key].get<T>();
}

void read_bool(const Json& j, const char* key, bool& out, const std::string& what) {
  if (!j.contains(key) || j[key].is_null()) return;
  check(j[key].is_boolean(), what + ": \"" + key + "\" must be true or false");
  out = j[key].get<bool>();
}

void read_triple(const Json& j, const char* key, float (&out)[3], const std::string& what) {
  if (!j.contains(key) || j[key].is_null()) return;
  const Json& v = j[key];
  if (v.is_number()) {
    out[0] = out[1] = out[2] = v.get<float>();
    return;
  }
  check(v.is_array() && v.size() == 3, what + ": \"" + key + "\" must be a number or 3 numbers");
  for (size_t i = 0; i < 3; ++i) {
    check(v[i].is_number(), what + ": \"" + key + "\" must hold numbers");
    out[i] = v[i].get<float>();
  }
}

void read_vector(const Json& j, const char* key, std::vector<double>& out, const std::string& what) {
  if (!j.contains(key) || j[key].is_null()) return;
  check(j[key].is_array(), what + ": \"" + key + "\" must be a list of numbers");
  out.clear();
  for (const Json& v : j[key]) {
    check(v.is_number(), what + ": \"" + key + "\" must hold numbers");
    out.push_back(v.get<double>());
  }
}

void parse_image(const Json& j, ImageProcessorConfig& c, const std::string& what) {
  read_num(j, "patch_size", c.patch_size, what);
  read_num(j, "max_soft_tokens", c.max_soft_tokens, what);
  read_num(j, "pooling_kernel_size", c.pooling_kernel_size, what);
  read_bool(j, "do_resize", c.do_resize, what);
  read_num(j, "resample", c.resample, what);
  read_bool(j, "do_rescale", c.do_rescale, what);
  read_num(j, "rescale_factor", c.rescale_factor, what);
  read_bool(j, "do_normalize", c.do_normalize, what);
  read_triple(j, "image_mean", c.image_mean, what);
  read_triple(j, "image_std", c.image_std, what);
  check(c.patch_size >= 1 && c.patch_size <= 64, what + ": patch_size " + std::to_string(c.patch_size) +
                                                     " is out of range");
  check(c.pooling_kernel_size >= 1 && c.pooling_kernel_size <= 8, what + ": pooling_kernel_size is out of range");
  check(is_supported_soft_token_budget(c.max_soft_tokens),
        what + ": max_soft_tokens " + std::to_string(c.max_soft_tokens) + " is not one of 70, 140, 280, 560, 1120");
  check(c.resample == 2 || c.resample == 3,
        what + ": resample " + std::to_string(c.resample) + " is not supported (2 = bilinear, 3 = bicubic)");
  for (float s : c.image_std) check(s != 0.0f, what + ": image_std holds 0");
}

void parse_audio(const Json& j, AudioFeatureConfig& c, const std::string& what) {
  read_num(j, "feature_size", c.feature_size, what);
  read_num(j, "sampling_rate", c.sampling_rate, what);
  read_num(j, "frame_length_ms", c.frame_length_ms, what);
  read_num(j, "hop_length_ms", c.hop_length_ms, what);
  read_num(j, "min_frequency", c.min_frequency, what);
  read_num(j, "max_frequency", c.max_frequency, what);
  read_num(j, "preemphasis", c.preemphasis, what);
  read_bool(j, "preemphasis_htk_flavor", c.preemphasis_htk_flavor, what);
  read_bool(j, "fft_overdrive", c.fft_overdrive, what);
  read_num(j, "input_scale_factor", c.input_scale_factor, what);
  read_num(j, "mel_floor", c.mel_floor, what);
  read_vector(j, "per_bin_mean", c.per_bin_mean, what);
  read_vector(j, "per_bin_stddev", c.per_bin_stddev, what);
  double dither = 0.0, padding_value = 0.0;
  read_num(j, "dither", dither, what);
  read_num(j, "padding_value", padding_value, what);
  // Dither adds random noise (the reference draws it from numpy's global generator): not reproducible, refused.
  check(dither == 0.0, what + ": dither " + std::to_string(dither) + " is not supported (only 0)");
  check(padding_value == 0.0, what + ": padding_value other than 0 is not supported");
  check(c.feature_size >= 1 && c.feature_size <= 1024, what + ": feature_size is out of range");
  check(c.sampling_rate >= 1000 && c.sampling_rate <= 192000, what + ": sampling_rate is out of range");
  check(c.frame_length_ms > 0 && c.frame_length_ms <= 1000 && c.hop_length_ms > 0 && c.hop_length_ms <= 1000,
        what + ": frame_length_ms / hop_length_ms are out of range");
  check(c.min_frequency >= 0 && c.max_frequency > c.min_frequency, what + ": invalid min/max_frequency");
  check(c.mel_floor > 0, what + ": mel_floor must be positive");
  check(c.per_bin_mean.empty() || int(c.per_bin_mean.size()) == c.feature_size,
        what + ": per_bin_mean must hold feature_size values");
  check(c.per_bin_stddev.empty() || int(c.per_bin_stddev.size()) == c.feature_size,
        what + ": per_bin_stddev must hold feature_size values");
  for (double s : c.per_bin_stddev) check(s != 0.0, what + ": per_bin_stddev holds 0");
}

}  // namespace

ProcessorConfig parse_processor_config(const std::string& text, const std::string& what) {
  Json j = parse_json(text, what);
  check(j.is_object(), what + ": not a JSON object");
  ProcessorConfig c;
  // Nested (processor_config.json of transformers 5) or flat (preprocessor_config.json).
  if (j.contains("image_processor")) {
    check(j["image_processor"].is_object(), what + ": \"image_processor\" must be an object");
    parse_image(j["image_processor"], c.image, what + " image_processor");
  } else if (j.contains("image_processor_type") || j.contains("max_soft_tokens")) {
    parse_image(j, c.image, what);
  }
  if (j.contains("feature_extractor")) {
    check(j["feature_extractor"].is_object(), what + ": \"feature_extractor\" must be an object");
    parse_audio(j["feature_extractor"], c.audio, what + " feature_extractor");
  } else if (j.contains("feature_extractor_type") || j.contains("feature_size")) {
    parse_audio(j, c.audio, what);
  }
  read_num(j, "audio_seq_length", c.audio.audio_seq_length, what);
  check(c.audio.audio_seq_length >= 1, what + ": audio_seq_length must be positive");
  return c;
}

ProcessorConfig load_processor_config(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(model_path, ec)) return {};
  for (const char* name : {"processor_config.json", "preprocessor_config.json"}) {
    fs::path p = fs::path(model_path) / name;
    if (fs::is_regular_file(p, ec)) return parse_processor_config(read_text_file(p.string()), p.string());
  }
  return {};
}

}  // namespace g4::media

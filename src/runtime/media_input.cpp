#include "runtime/media_input.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "media/media.h"
#include "model/audio_tower.h"
#include "model/vision_tower.h"

namespace g4 {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const MultimodalModel& media_of(const Model& model, const std::string& what) {
  if (!model.media())
    throw Error("cannot use " + what + ": this model has no media towers (a text-only checkpoint; for a GGUF model pass its projector with --mmproj)");
  return *model.media();
}

const VisionTower& vision_of(const Model& model, const std::string& what) {
  const MultimodalModel& mm = media_of(model, what);
  if (!mm.vision) throw Error("cannot use " + what + ": the model " + mm.model_name + " has no vision tower");
  return *mm.vision;
}

uint64_t fnv1a(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// The prefix-cache key of placeholder i of a media item: a negative id (real ids are >= 0).
int32_t placeholder_key(uint64_t hash, int64_t i) {
  const uint64_t x = (hash + uint64_t(i) * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
  return -1 - int32_t(x >> 33);
}

std::shared_ptr<const EncodedMedia> finish(EncodedMedia m) {
  m.hash = fnv1a(m.soft.data(), m.soft.size() * sizeof(float)) ^ (m.kind == MediaKind::Audio ? 0x5bd1e995ull : 0);
  return std::make_shared<const EncodedMedia>(std::move(m));
}

// The image processor's and feature extractor's settings: the folder's processor_config.json /
// preprocessor_config.json, transformers' defaults for a GGUF projector (llama.cpp's files carry none).
media::ProcessorConfig processor_config(const MultimodalModel& mm) {
  return is_directory(mm.where) ? media::load_processor_config(mm.where) : media::ProcessorConfig{};
}

}  // namespace

int image_token_budget(int requested) {
  if (requested == 0) return 280;
  static const int kBudgets[] = {70, 140, 280, 560, 1120};
  for (int b : kBudgets)
    if (b == requested) return b;
  throw Error("image tokens must be one of 70, 140, 280, 560 or 1120, not " + std::to_string(requested));
}

std::shared_ptr<const EncodedMedia> encode_pixels(const Model& model, const float* pixels, const int32_t* positions, int64_t n_patches,
                                                  const std::string& what, TowerMath math) {
  const VisionTower& tower = vision_of(model, what);
  EncodedMedia m;
  m.kind = MediaKind::Image;
  m.what = what;
  m.soft = tower.encode(pixels, positions, n_patches, &m.n_tokens, math);
  return finish(std::move(m));
}

namespace {

media::DecodeLimits decode_limits(const MediaLimits& limits) {
  media::DecodeLimits dl;
  dl.max_bytes = limits.max_bytes;
  dl.max_pixels = uint64_t(std::max<int64_t>(limits.max_pixels, 1));
  return dl;
}

// A decoded picture through the Gemma 4 image processor (budget: --image-tokens, else the processor
// config's own) and the vision tower.
std::shared_ptr<const EncodedMedia> encode_decoded(const Model& model, const media::Image& img, const std::string& what,
                                                   const MediaEncoding& enc) {
  const int image_tokens = enc.image_tokens;
  const media::ImageFeatures pre =
      media::preprocess_image(img, processor_config(*model.media()).image, image_tokens == 0 ? 0 : image_token_budget(image_tokens));
  std::vector<int32_t> pos(pre.position_ids.begin(), pre.position_ids.end());
  return encode_pixels(model, pre.pixel_values.data(), pos.data(), pre.max_patches, what, enc.math);
}

}  // namespace

std::shared_ptr<const EncodedMedia> encode_image_file(const Model& model, const std::string& path, const MediaEncoding& enc,
                                                      const MediaLimits& limits) {
  const int image_tokens = enc.image_tokens;
  const std::string what = "image '" + path + "'";
  (void)vision_of(model, what);
  const int budget = image_token_budget(image_tokens);
  if (!file_exists(path)) throw Error("cannot read " + what + ": no such file");
  if (!ends_with(path, ".safetensors")) {
    media::Image img;
    try {
      img = media::read_image_file(path, decode_limits(limits));
    } catch (const Error& e) {
      throw Error("cannot read " + what + ": " + e.what());
    }
    return encode_decoded(model, img, what, enc);
  }
  auto f = SafetensorsFile::open(path);
  const TensorInfo* pv = f->find("pixel_values");
  const TensorInfo* pp = f->find("image_position_ids");
  if (!pv || !pp) throw Error(what + " holds no 'pixel_values' and 'image_position_ids'");
  const int patch_values = vision_of(model, what).config().patch_values();
  const std::vector<int64_t>& s = pv->shape;
  const bool shape_ok = (s.size() == 3 && s[0] == 1) || s.size() == 2;
  const int64_t n = s.size() >= 2 ? s[s.size() - 2] : 0;
  if (!shape_ok || s.back() != patch_values || pp->numel() != 2 * n)
    throw Error(what + ": pixel_values must be [1, P, " + std::to_string(patch_values) + "] and image_position_ids [1, P, 2], got " +
                pv->shape_str() + " and " + pp->shape_str());
  const int kk = vision_of(model, what).config().pooling_kernel * vision_of(model, what).config().pooling_kernel;
  if (image_tokens != 0 && n != int64_t(budget) * kk)
    throw Error(what + " was processed for " + std::to_string(n / kk) + " soft tokens, not the " + std::to_string(budget) + " asked for");
  if (n > int64_t(limits.max_pixels / (16 * 16)))
    throw Error(what + " has " + std::to_string(n) + " patches, more than the limit allows");
  std::vector<float> pixels = tensor_to_f32(*pv);
  std::vector<int32_t> pos;
  for (int64_t v : tensor_to_i64(*pp)) {
    if (v < -1 || v > (1 << 20)) throw Error(what + ": image_position_ids holds an invalid position " + std::to_string(v));
    pos.push_back(int32_t(v));
  }
  return encode_pixels(model, pixels.data(), pos.data(), n, what, enc.math);
}

std::shared_ptr<const EncodedMedia> encode_image_bytes(const Model& model, const std::string& bytes, const std::string& what,
                                                       const MediaEncoding& enc, const MediaLimits& limits) {
  (void)vision_of(model, what);
  (void)image_token_budget(enc.image_tokens);
  if (bytes.size() > limits.max_bytes)
    throw Error(what + " is " + std::to_string(bytes.size()) + " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  media::Image img;
  try {
    img = media::decode_image(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                              decode_limits(limits));
  } catch (const Error& e) {
    throw Error("cannot read " + what + ": " + e.what());
  }
  return encode_decoded(model, img, what, enc);
}

std::shared_ptr<const EncodedMedia> encode_audio_bytes(const Model& model, const std::string& bytes, const std::string& what,
                                                       const MediaLimits& limits) {
  const MultimodalModel& mm = media_of(model, what);
  if (!mm.audio)
    throw Error("cannot use " + what + ": the model " + mm.model_name + " has no audio tower (Gemma 4 26B and 31B take images, not audio)");
  if (bytes.size() > limits.max_bytes)
    throw Error(what + " is " + std::to_string(bytes.size()) + " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  media::AudioDecodeLimits dl;
  dl.max_bytes = limits.max_bytes;
  media::Audio audio;
  try {
    audio = media::decode_audio(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), dl);
  } catch (const Error& e) {
    throw Error("cannot read " + what + ": " + e.what());
  }
  const media::AudioFeatures f = media::extract_audio_features(audio, processor_config(mm).audio);
  const auto& tower = dynamic_cast<const AudioTower&>(*mm.audio);
  // The mask as transformers' eager attention applies it, which wrote the reference activations (see
  // AudioMaskMode); G4_AUDIO_MASK=intended applies it as meant (sdpa's result).
  static const bool intended = [] {
    const char* e = std::getenv("G4_AUDIO_MASK");
    return e && std::string(e) == "intended";
  }();
  AudioSoftTokens soft = tower.encode(f.input_features.data(), f.frames, f.mel_bins, f.mask.data(),
                                      intended ? AudioMaskMode::Intended : AudioMaskMode::Reference);
  EncodedMedia m;
  m.kind = MediaKind::Audio;
  m.what = what;
  m.n_tokens = soft.n;
  m.soft = std::move(soft.data);
  return finish(std::move(m));
}

std::shared_ptr<const EncodedMedia> encode_audio_file(const Model& model, const std::string& path, const MediaLimits& limits) {
  const std::string what = "audio '" + path + "'";
  const MultimodalModel& mm = media_of(model, what);
  if (!mm.audio)
    throw Error("cannot use " + what + ": the model " + mm.model_name + " has no audio tower (Gemma 4 26B and 31B take images, not audio)");
  if (!file_exists(path)) throw Error("cannot read " + what + ": no such file");
  return encode_audio_bytes(model, read_text_file(path), what, limits);
}

size_t MediaPrompt::chunk_end(size_t from, size_t end) const {
  if (!has_blocks || end >= ids.size() || end <= from) return end;
  const int64_t b = block_end[end];
  if (b < 0 || block_end[end - 1] != b) return end;  // `end` does not cut a block
  size_t start = end;
  while (start > 0 && block_end[start - 1] == b) --start;
  return start > from ? start : size_t(b) + 1;
}

std::vector<MediaSpan> MediaPrompt::spans_from(size_t from) const {
  std::vector<MediaSpan> out;
  const int64_t f = int64_t(from);
  for (const MediaSpan& s : spans) {
    if (s.offset + s.count <= f) continue;
    MediaSpan t = s;
    const int64_t skip = std::max<int64_t>(0, f - s.offset);
    t.offset = s.offset + skip - f;
    t.count = s.count - skip;
    t.rows = s.rows + skip * hidden;
    out.push_back(t);
  }
  return out;
}

namespace {

void add_span(MediaPrompt& p, const EncodedMedia& m, int64_t offset, bool bidirectional) {
  MediaSpan s;
  s.offset = offset;
  s.count = m.n_tokens;
  s.rows = m.soft.data();
  s.bidirectional = bidirectional;
  p.spans.push_back(s);
  p.rows.resize(p.ids.size(), nullptr);
  p.block_end.resize(p.ids.size(), -1);
  for (int64_t i = 0; i < m.n_tokens; ++i) {
    p.cache_key[size_t(offset + i)] = placeholder_key(m.hash, i);
    p.rows[size_t(offset + i)] = m.soft.data() + i * p.hidden;
    if (bidirectional) p.block_end[size_t(offset + i)] = offset + m.n_tokens - 1;
  }
  p.has_blocks = p.has_blocks || bidirectional;
}

}  // namespace

MediaPrompt expand_media(const Model& model, const std::vector<int32_t>& ids, const MediaList& media) {
  MediaPrompt p;
  p.hidden = model.config().hidden_size;
  p.media = media;
  if (media.empty()) {
    p.ids = ids;
    p.cache_key = ids;
    if (model.media()) {
      const MediaTokens& t = model.media()->tokens;
      for (int32_t id : ids)
        if ((id == t.image && t.image >= 0) || (id == t.audio && t.audio >= 0))
          throw Error("the prompt has a media placeholder but no media was given");
    }
    return p;
  }
  const MultimodalModel& mm = media_of(model, "media");
  const MediaTokens& t = mm.tokens;
  std::vector<std::shared_ptr<const EncodedMedia>> images, audios;
  for (const auto& m : media) (m->kind == MediaKind::Image ? images : audios).push_back(m);
  size_t next_image = 0, next_audio = 0;
  std::vector<std::pair<int64_t, const EncodedMedia*>> placed;
  for (int32_t id : ids) {
    const bool img = id == t.image && t.image >= 0, aud = id == t.audio && t.audio >= 0;
    if (!img && !aud) {
      p.ids.push_back(id);
      continue;
    }
    std::vector<std::shared_ptr<const EncodedMedia>>& list = img ? images : audios;
    size_t& next = img ? next_image : next_audio;
    if (next >= list.size())
      throw Error(std::string("the prompt has more ") + (img ? "image" : "audio") + " placeholders than " + (img ? "images" : "audio clips") + " given");
    const EncodedMedia& m = *list[next++];
    const int begin = img ? t.image_begin : t.audio_begin, end = img ? t.image_end : t.audio_end;
    if (begin < 0 || end < 0) throw Error("the model's media markers (begin/end tokens) are unknown");
    p.ids.push_back(begin);
    placed.emplace_back(int64_t(p.ids.size()), &m);
    p.ids.insert(p.ids.end(), size_t(m.n_tokens), id);
    p.ids.push_back(end);
  }
  if (next_image != images.size() || next_audio != audios.size())
    throw Error("the prompt has " + std::to_string(next_image) + " image and " + std::to_string(next_audio) + " audio placeholders for " +
                std::to_string(images.size()) + " images and " + std::to_string(audios.size()) + " audio clips");
  p.cache_key = p.ids;
  for (const auto& [offset, m] : placed)
    add_span(p, *m, offset, m->kind == MediaKind::Image && mm.bidirectional_vision);
  return p;
}

MediaPrompt place_media(const Model& model, const std::vector<int32_t>& ids, const MediaList& media) {
  MediaPrompt p;
  p.hidden = model.config().hidden_size;
  p.ids = ids;
  p.cache_key = ids;
  p.media = media;
  const MultimodalModel* mm = model.media();
  if (!mm) {
    if (!media.empty()) (void)media_of(model, "media");
    return p;
  }
  const MediaTokens& t = mm->tokens;
  std::vector<std::shared_ptr<const EncodedMedia>> images, audios;
  for (const auto& m : media) (m->kind == MediaKind::Image ? images : audios).push_back(m);
  size_t next_image = 0, next_audio = 0;
  for (size_t i = 0; i < ids.size();) {
    const bool img = ids[i] == t.image && t.image >= 0, aud = ids[i] == t.audio && t.audio >= 0;
    if (!img && !aud) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    std::vector<std::shared_ptr<const EncodedMedia>>& list = img ? images : audios;
    size_t& next = img ? next_image : next_audio;
    if (next >= list.size())
      throw Error(std::string("the ids have more runs of ") + (img ? "image" : "audio") + " placeholders than " + (img ? "images" : "audio clips") +
                  " given");
    const EncodedMedia& m = *list[next++];
    if (m.n_tokens != int64_t(j - i))
      throw Error("a run of " + std::to_string(j - i) + " placeholders at position " + std::to_string(i) + " meets " + m.what + ", which has " +
                  std::to_string(m.n_tokens) + " soft tokens");
    add_span(p, m, int64_t(i), img && mm->bidirectional_vision);
    i = j;
  }
  if (next_image != images.size() || next_audio != audios.size())
    throw Error("the ids have " + std::to_string(next_image) + " image and " + std::to_string(next_audio) + " audio placeholder runs for " +
                std::to_string(images.size()) + " images and " + std::to_string(audios.size()) + " audio clips");
  return p;
}

int media_chunk_size(const Model& model, int chunk) {
  if (model.media() && model.media()->vision && model.media()->bidirectional_vision) return std::max(chunk, 1120 + 2);
  return chunk;
}

}  // namespace g4

#pragma once
// The media towers beside a text decoder (Gemma 4: a vision tower on every size, an audio tower on
// E2B/E4B), loaded from a Hugging Face folder (`model.vision_tower.*`, `model.embed_vision.*`, …) or
// from llama.cpp's separate projector GGUF (`--mmproj`, architecture `clip`).
//
// Each tower turns its media into "soft tokens": rows of the text model's hidden size that replace the
// placeholder tokens of the prompt (see MediaSpan in model/model.h). Towers share the loading code here
// (TowerBinder, the tensor sources); each one has its own file (model/vision_tower.h, …) and its own
// line in load_towers() (multimodal.cpp).
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/weight_source.h"
#include "quant/weight.h"

namespace g4 {

class GgufFile;
class VisionTower;

// The special tokens of media in the prompt (ids from config.json or the tokenizer).
struct MediaTokens {
  int image = -1;      // <|image|>: one per image soft token
  int image_begin = -1, image_end = -1;  // <|image>, <image|>
  int video = -1;      // <|video|>
  int audio = -1;      // <|audio|>: one per audio soft token
  int audio_begin = -1, audio_end = -1;  // <|audio>, <audio|>
};

// A media tower: the common face of the vision and audio towers.
// A linear layer of the towers, optionally clamping its input and output (Gemma4ClippableLinear; the
// bounds are +-inf where the checkpoint has none). One definition for both towers.
struct ClippedLinear {
  Weight w;
  bool clip = false;
  float in_min = -std::numeric_limits<float>::infinity(), in_max = std::numeric_limits<float>::infinity();
  float out_min = -std::numeric_limits<float>::infinity(), out_max = std::numeric_limits<float>::infinity();
};

// How a tower multiplies. Exact: f32 products of the stored weights (the reference; what `logits` and
// `media` use by default, and the fixtures' tolerance holds for). Fast: activations rounded to bf16 for the
// CPU's bf16 units (AMX-BF16 / AVX-512 BF16; MatmulMath::Fast, bf16 weights stay exact) and attention in
// bf16 tiles where the CPU has them; its error against Exact is measured and reported, not bounded by the
// fixtures' 1e-4. Where the CPU has no bf16 units, Fast is Exact.
enum class TowerMath { Exact, Fast };

class MediaTower {
 public:
  virtual ~MediaTower() = default;
  virtual std::string kind() const = 0;  // "vision", "audio"
  virtual int64_t parameter_count() const = 0;
  virtual size_t weight_bytes() const = 0;
};

// Binds a tower's tensors by their Hugging Face names (without "model."), checking shapes. Matrices stay
// in their stored format; vectors and scalars are copied to f32. Errors name the tensor and the source.
class TowerBinder {
 public:
  TowerBinder(const WeightSource& source, std::string tower) : source_(source), tower_(std::move(tower)) {}
  Weight matrix(const std::string& name, int64_t rows, int64_t cols) const;
  std::vector<float> vector(const std::string& name, int64_t n) const;
  // Any shape, as f32 values (position tables).
  std::vector<float> values(const std::string& name, const std::vector<int64_t>& shape) const;
  // A scalar buffer (shape [] in Hugging Face files, [1] in GGUF).
  float scalar(const std::string& name) const;
  bool has(const std::string& name) const { return source_.find(name) != nullptr; }
  const WeightSource& source() const { return source_; }

 private:
  const SourceTensor& tensor(const std::string& name, const std::vector<int64_t>& shape) const;
  const WeightSource& source_;
  std::string tower_;
};

// Everything multimodal a text model carries.
struct MultimodalModel {
  MultimodalModel();
  ~MultimodalModel();
  std::string where;                      // the folder or projector file, for messages
  std::string model_name;                 // names the model in "cannot take audio" errors
  MediaTokens tokens;
  bool bidirectional_vision = false;      // 26B/31B: image blocks attend both ways on sliding layers
  std::shared_ptr<WeightSource> source;   // keeps the files mapped
  std::unique_ptr<VisionTower> vision;    // null when the checkpoint has none
  std::unique_ptr<MediaTower> audio;      // the audio tower (model/audio_tower.h), null when none

  int64_t parameter_count() const;
  size_t weight_bytes() const;
};

// The towers of a Hugging Face folder, from its config.json (`vision_config`, `audio_config`) and
// tensors; null when the config has no tower. `text_hidden` is the decoder's hidden size.
std::unique_ptr<MultimodalModel> load_multimodal_hf(const std::string& dir, const Json& config, int text_hidden);

// The towers of a llama.cpp projector GGUF (`clip` architecture, projector types gemma4v / gemma4a).
// Throws g4::Error naming the file when it is not one, or when its projection width differs from
// `text_hidden`.
std::unique_ptr<MultimodalModel> load_multimodal_gguf(const std::string& path, int text_hidden);
std::unique_ptr<MultimodalModel> load_multimodal_gguf(std::shared_ptr<const GgufFile> file, int text_hidden);

// The special token ids of a Gemma 4 wrapper config.json (image_token_id, boi_token_id, …).
MediaTokens media_tokens_from_hf(const Json& config);
// The same looked up by their strings in a GGUF's tokenizer.ggml.tokens ("<|image|>", "<|image>", …).
MediaTokens media_tokens_from_gguf_vocab(const GgufFile& text_model);

}  // namespace g4

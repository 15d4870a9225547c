#pragma once
// The Gemma 4 audio tower (E2B/E4B): log-mel features -> audio soft tokens in the text model's embedding
// space. It follows transformers' Gemma4AudioModel and the `embed_audio` Gemma4MultimodalEmbedder:
//
//   features [T, 128] (masked frames zeroed)
//   -> 2 x (Conv2d 3x3 stride 2 pad 1, no bias -> LayerNorm over channels (no bias) -> ReLU), mask[::2] each
//   -> flatten (freq, channel) -> input_proj_linear
//   -> conformer layers: FF/2 -> chunked local self-attention (relative positions, logit cap) -> light conv
//      (GLU, causal depthwise conv, RMSNorm, SiLU) -> FF/2 -> RMSNorm
//   -> output_proj (bias) -> embed_audio: RMSNorm without scale -> Linear to the text hidden size
//   -> the rows whose (4x decimated) mask is set.
//
// Computation is f32 (the references are f32); matrices stay in their stored format and go through
// g4::matmul on the global thread pool.
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/multimodal.h"
#include "model/weight_source.h"
#include "quant/weight.h"

namespace g4 {

struct AudioConfig {
  int hidden_size = 1024;
  int n_layers = 12;
  int n_heads = 8;
  int sub_channels0 = 128, sub_channels1 = 32;  // subsampling_conv_channels
  int conv_kernel = 5;                          // light-conv depthwise kernel
  int chunk_size = 12, context_left = 13, context_right = 0;
  float logit_cap = 50.0f;
  float invalid_logit = -1e9f;
  float residual_weight = 0.5f;
  float gradient_clipping = 1e10f;
  float rms_norm_eps = 1e-6f;
  bool clipped_linears = true;
  int output_dims = 1536;     // output_proj_dims
  int text_hidden_size = 0;   // embed_audio's output width
  int n_mel = 128;            // feature width the input projection was trained for (from its shape)

  int head_dim() const { return hidden_size / n_heads; }
  // Keys each query block sees: chunk + (left - 1) past + right future.
  int context_size() const { return chunk_size + context_left - 1 + context_right; }
};

// True when a config.json object (the `gemma4` wrapper) has an audio tower.
bool hf_config_has_audio(const Json& config);
// Reads `audio_config` (defaults as transformers' Gemma4AudioConfig) and text_config.hidden_size from a
// gemma4 config.json. Throws g4::Error naming `where` when there is no audio tower or a field is invalid.
AudioConfig audio_config_from_hf_json(const Json& config, const std::string& where);

// A linear layer whose input and output may be clamped (Gemma4ClippableLinear); +-inf bounds clamp nothing.
struct AudioFeedForward {
  std::vector<float> pre_norm, post_norm;  // [H]
  ClippedLinear up, down;                  // ffw_layer_1 [4H, H], ffw_layer_2 [H, 4H]
};

struct AudioLayerWeights {
  AudioFeedForward ff1, ff2;
  std::vector<float> norm_pre_attn, norm_post_attn, norm_out;  // [H]
  ClippedLinear q, k, v, post;                                 // [H, H]
  Weight rel_k;                                                // relative_k_proj [H, H]
  std::vector<float> dim_scale;                                // softplus(per_dim_scale) [head_dim]
  std::vector<float> conv_pre_norm, conv_norm;                 // lconv1d norms [H]
  ClippedLinear conv_start, conv_end;                          // linear_start [2H, H], linear_end [H, H]
  std::vector<float> depthwise;                                // [H, kernel]
};

struct AudioWeights {
  std::vector<float> conv0;        // [C0, 3, 3] (one input channel)
  std::vector<float> norm0;        // [C0]
  std::vector<float> conv1_packed; // [C1, 3*3*C0]: rows ordered (kt, kf, c0) to match the im2col layout
  Weight conv1;                    // a view of conv1_packed
  std::vector<float> norm1;        // [C1]
  Weight input_proj;               // [H, F2 * C1]
  std::vector<AudioLayerWeights> layers;
  Weight output_proj;              // [output_dims, H]
  std::vector<float> output_bias;  // [output_dims]
  Weight embed_proj;               // embed_audio.embedding_projection [text_H, output_dims]
};

// Binds the tower's tensors from `source`, named as in a Hugging Face checkpoint without its "model."
// prefix ("audio_tower.layers.0.self_attn.q_proj.linear.weight", "embed_audio.embedding_projection.weight").
// Also sets config.n_mel from the input projection's width. Throws g4::Error naming a missing or
// misshapen tensor.
// per_dim_scale_softplus: the source holds softplus(per_dim_scale) (llama.cpp's GGUF) instead of the raw
// parameter.
AudioWeights bind_audio_weights(AudioConfig& config, const WeightSource& source, bool per_dim_scale_softplus = false);

// torch.nn.functional.softplus (beta 1, threshold 20), in f32.
inline float audio_softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

// llama.cpp's mmproj GGUF name of an audio tensor named as bind_audio_weights asks for it
// ("audio_tower.layers.3.self_attn.q_proj.linear.weight" -> "a.blk.3.attn_q.weight"), and back. Empty
// when the name has no counterpart.
std::string audio_gguf_name(const std::string& hf_name);
std::string audio_hf_name(const std::string& gguf_name);
// The Hugging Face names of every tensor the tower binds for `config` (its layer count and whether its
// linears are clipped), in binding order: what a projector writer (convert/mmproj_writer.h) stores.
std::vector<std::string> audio_tensor_names(const AudioConfig& config);

class GgufFile;
// An mmproj GGUF's audio tensors under the names bind_audio_weights asks for (softplus'd per_dim_scale:
// bind with per_dim_scale_softplus), and the tower's configuration from its metadata and shapes. Throw
// g4::Error naming the file when it is not a Gemma 4 audio projector.
std::unique_ptr<WeightSource> open_mmproj_audio_weights(std::shared_ptr<const GgufFile> file);
AudioConfig audio_config_from_mmproj(const GgufFile& file, const WeightSource& audio_source);

// Audio soft tokens: `n` rows of `dim` (the text hidden size) values, ready to replace the audio
// placeholder embeddings (they are not scaled by sqrt(H)).
struct AudioSoftTokens {
  int64_t n = 0;
  int64_t dim = 0;
  std::vector<float> data;
};

// How the attention mask is applied. transformers' eager attention (which wrote the fixtures' references)
// hands the tower an additive float mask that its bool-mask code applies inverted (huggingface/transformers
// issue #48818): each query attends to the in-range keys *outside* its window, or uniformly to its whole
// context when there are none. Reference reproduces that; Intended is the mask as meant (sdpa's result).
enum class AudioMaskMode { Reference, Intended };

class AudioTower : public MediaTower {
 public:
  AudioTower(AudioConfig config, std::shared_ptr<WeightSource> source, bool per_dim_scale_softplus = false);

  // A Hugging Face folder (config.json with audio_config; model.audio_tower.* / model.embed_audio.*).
  // Throws g4::Error naming the folder when the model has no audio tower.
  static std::unique_ptr<AudioTower> load_hf(const std::string& dir);
  // A llama.cpp projector GGUF (architecture "clip" with the "gemma4a" audio projector). Throws g4::Error
  // naming the file when it has no audio encoder.
  static std::unique_ptr<AudioTower> load_gguf(const std::string& path);

  const AudioConfig& config() const { return config_; }
  const AudioWeights& weights() const { return weights_; }
  // For memory plans and `info` (the media towers' common interface on the towers branch).
  std::string kind() const override { return "audio"; }
  int64_t parameter_count() const override;
  size_t weight_bytes() const override;

  // features: [frames, mel] row-major log-mel values; mask: [frames], nonzero = a real frame (nullptr: all
  // real). Returns the soft tokens of the real frames. Throws g4::Error when mel differs from the tower's.
  AudioSoftTokens encode(const float* features, int64_t frames, int64_t mel, const uint8_t* mask,
                         AudioMaskMode mode = AudioMaskMode::Reference) const;

  // Soft tokens `frames` real frames become (each stride-2 convolution keeps ceil(n / 2)).
  static int64_t tokens_for_frames(int64_t frames);

 private:
  void subsample(const float* features, int64_t frames, const uint8_t* mask, std::vector<float>& h,
                 std::vector<uint8_t>& out_mask) const;
  void layer(int i, std::vector<float>& h, int64_t T, const std::vector<uint8_t>& mask, AudioMaskMode mode) const;
  void feed_forward(const AudioFeedForward& ff, float* h, int64_t T) const;
  void attention(const AudioLayerWeights& lw, const float* x, int64_t T, const std::vector<uint8_t>& mask,
                 AudioMaskMode mode, float* out) const;
  void light_conv(const AudioLayerWeights& lw, float* h, int64_t T) const;

  AudioConfig config_;
  std::shared_ptr<WeightSource> source_;  // keeps mapped files alive
  AudioWeights weights_;
  std::vector<float> rel_pos_;            // sinusoidal relative position embeddings [n_rel, H]
};

}  // namespace g4

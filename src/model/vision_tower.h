#pragma once
// The Gemma 4 vision tower (transformers' Gemma4VisionModel) and its projection into the text model
// (Gemma4MultimodalEmbedder, `embed_vision`), computed in f32 on weights in their stored format:
//
//   patches (16x16x3 values in [0,1]) -> 2(p - 0.5) -> input_proj + position tables[x] + [y]
//   -> ViT layers: four RMSNorms (input, post-attention, pre-FFN, post-FFN), q/k norms, scale-free v norm,
//      2-D RoPE (first half of each head rotated by x, second half by y; theta 100), attention scale 1,
//      bidirectional over the image's patches, gated GELU-tanh MLP; linears optionally clipped
//   -> average pooling of k x k patch groups by position, x sqrt(hidden) -> padding dropped
//   -> optional standardisation (h - std_bias) * std_scale
//   -> embed_vision: RMSNorm without scale -> Linear(hidden -> text hidden)
//
// Padding patches (position (-1, -1)) are never keys (the reference masks them) and are zeroed before
// pooling, so they are left out of the computation altogether.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/multimodal.h"
#include "quant/weight.h"

namespace g4 {

class GgufFile;

struct VisionConfig {
  int hidden = 0;
  int intermediate = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int patch_size = 16;
  int pooling_kernel = 3;
  int position_table = 0;   // rows per axis of the position embedding table
  float eps = 1e-6f;
  double rope_theta = 100.0;
  bool standardize = false;
  bool clipped_linears = false;
  int text_hidden = 0;      // width of the soft tokens (the decoder's hidden size)

  int patch_values() const { return 3 * patch_size * patch_size; }
};

// From the wrapper config.json's `vision_config` (`where` labels errors).
VisionConfig vision_config_from_hf(const Json& vision, int text_hidden, const std::string& where);
// From a projector GGUF's `clip.vision.*` metadata.
VisionConfig vision_config_from_gguf(const GgufFile& f, int text_hidden);

// A linear layer whose input and output may be clamped (Gemma4ClippableLinear).
struct VisionLayerWeights {
  std::vector<float> input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm;
  std::vector<float> q_norm, k_norm;
  ClippedLinear q, k, v, o, gate, up, down;
};

struct VisionWeights {
  Weight input_proj;                 // [hidden, 3*p*p], patch values in (row, column, channel) order
  std::vector<float> position_table; // [2, position_table, hidden]
  std::vector<VisionLayerWeights> layers;
  std::vector<float> std_bias, std_scale;  // [hidden] when standardize
  Weight embed_proj;                 // [text_hidden, hidden]
};

class VisionTower : public MediaTower {
 public:
  // Binds tensors named as in Hugging Face checkpoints without "model." ("vision_tower.…",
  // "embed_vision.embedding_projection.weight").
  VisionTower(VisionConfig config, const WeightSource& source);

  std::string kind() const override { return "vision"; }
  int64_t parameter_count() const override;
  size_t weight_bytes() const override;
  const VisionConfig& config() const { return config_; }
  const VisionWeights& weights() const { return weights_; }

  // Soft tokens of one image: `pixels` [n_patches, 3*p*p] in [0,1] as the image processor writes them,
  // `positions` [n_patches, 2] patch (x, y), (-1, -1) for padding. The pooled length is
  // n_patches / k^2; the soft tokens are the pooled rows any patch falls in, in order.
  // Returns [n_tokens, text_hidden]. Throws g4::Error on inconsistent positions.
  // `math`: TowerMath::Fast multiplies the layers' matrices with bf16 activations (MatmulMath::Fast) and
  // runs attention in bf16 tiles.
  std::vector<float> encode(const float* pixels, const int32_t* positions, int64_t n_patches, int64_t* n_tokens,
                            TowerMath math) const;

  // How many soft tokens encode() gives for these positions (without computing them).
  static int64_t soft_token_count(const int32_t* positions, int64_t n_patches, int pooling_kernel);

 private:
  void layer(const VisionLayerWeights& lw, float* h, int64_t n, const std::vector<float>& cos, const std::vector<float>& sin,
             TowerMath math) const;

  VisionConfig config_;
  VisionWeights weights_;

};

}  // namespace g4

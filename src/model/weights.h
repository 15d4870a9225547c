#pragma once
// The tensors of a Gemma 4 / Gemma 3 text decoder, bound to a ModelConfig and checked against it.
// Matrices stay in their stored format (memory-mapped); small vectors (norm weights, scales) are
// copied to f32, with Gemma 3's (1 + w) norm convention folded in at load time.
#include <memory>
#include <vector>

#include "model/config.h"
#include "model/weight_source.h"
#include "quant/weight.h"

namespace g4 {

struct ExpertWeights {
  Weight gate, up, down;  // [Im, H], [Im, H], [H, Im]
};

struct LayerWeights {
  std::vector<float> input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm;
  Weight q, k, v, o;                       // k/v empty on KV-shared layers, v empty on K=V layers
  std::vector<float> q_norm, k_norm;
  Weight gate, up, down;                   // dense MLP
  // Mixture of experts (26B-A4B): router and experts beside the dense MLP.
  Weight router;                           // [E, H]
  std::vector<float> router_scale;         // [H]
  std::vector<float> per_expert_scale;     // [E]
  std::vector<ExpertWeights> experts;
  std::vector<float> pre_ffn_norm2, post_ffn_norm1, post_ffn_norm2;
  // Per-layer embeddings (E2B/E4B).
  Weight ple_gate, ple_proj;               // [P, H], [H, P]
  std::vector<float> post_ple_norm;
  float layer_scalar = 1.0f;
};

struct ModelWeights {
  Weight embed;                            // [V, H], also the tied lm_head
  Weight ple_embed;                        // [V_ple, L*P]
  Weight ple_model_proj;                   // [L*P, H]
  std::vector<float> ple_proj_norm;        // [P]
  std::vector<float> final_norm;           // [H]
  std::vector<LayerWeights> layers;
};

// Binds and validates every tensor the config calls for. Throws g4::Error naming the tensor and the
// source for a missing tensor or a shape mismatch.
ModelWeights bind_weights(const ModelConfig& config, const WeightSource& source);

}  // namespace g4

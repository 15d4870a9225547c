#pragma once
// ModelConfig: everything the forward pass needs to know about a Gemma 4 / Gemma 3 text decoder,
// resolved per layer (head dim, KV heads, KV source, MLP width), independent of the file format.
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace g4 {

enum class Family { Gemma4, Gemma3 };
enum class LayerType { Sliding, Full };

struct RopeParams {
  std::string type = "default";   // default | proportional | linear
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;  // proportional: fraction of the head dim that rotates
  double factor = 1.0;                 // linear scaling divisor / proportional factor
};

struct LayerPlan {
  LayerType type = LayerType::Sliding;
  int head_dim = 0;
  int n_kv_heads = 0;
  bool k_eq_v = false;     // V is the raw K projection (no v_proj)
  int kv_source = 0;       // layer whose K/V this layer attends to (itself unless KV-shared)
  int ffn_dim = 0;         // dense MLP width
  bool moe = false;

  bool shares_kv(int self) const { return kv_source != self; }
};

struct ModelConfig {
  Family family = Family::Gemma4;
  std::string model_type;      // as written in config.json, e.g. gemma4_text
  int vocab_size = 0;
  int hidden_size = 0;
  int n_layers = 0;
  int n_heads = 0;
  int intermediate_size = 0;
  int sliding_window = 0;
  float rms_norm_eps = 1e-6f;
  float final_logit_softcap = 0.0f;  // 0: none
  float attn_logit_softcap = 0.0f;   // Gemma 3 option; 0: none
  float attention_scale = 1.0f;      // Gemma 4: 1.0; Gemma 3: query_pre_attn_scalar^-0.5
  bool norm_adds_one = false;        // Gemma 3 RMSNorm uses (1 + w)
  bool has_v_norm = true;            // Gemma 4 normalises V without weight
  bool has_layer_scalar = true;      // Gemma 4 only
  int ple_dim = 0;                   // hidden_size_per_layer_input; 0 disables per-layer embeddings
  int ple_vocab = 0;
  int n_kv_shared_layers = 0;
  int n_experts = 0, top_k_experts = 0, moe_intermediate_size = 0;
  int max_position_embeddings = 0;
  RopeParams rope_sliding, rope_full;
  int bos_id = 2, eos_id = 1, pad_id = 0;
  std::vector<int> eog_ids;          // end-of-generation ids (generation_config or config)
  std::vector<LayerPlan> layers;

  bool has_ple() const { return ple_dim > 0; }
  bool is_moe() const { return n_experts > 0; }
  const RopeParams& rope(LayerType t) const { return t == LayerType::Full ? rope_full : rope_sliding; }
  std::string family_name() const { return family == Family::Gemma4 ? "gemma4" : "gemma3"; }
};

// Builds a ModelConfig from a Hugging Face config.json (gemma4_text, gemma4 wrapper, gemma3_text,
// gemma3 wrapper). `where` names the file in errors. Throws g4::Error for unknown architectures or
// inconsistent fields.
ModelConfig config_from_hf_json(const Json& config, const std::string& where);

// Token ids given as one integer or a list of integers (eos_token_id); other entries are skipped.
std::vector<int> read_id_list(const Json& value);

// Per-layer geometry as read from a file, before KV sources are resolved. Shared by every config
// reader (HF config.json, GGUF metadata).
struct LayerGeometry {
  std::vector<LayerType> types;
  std::vector<int> head_dim;
  std::vector<int> n_kv_heads;
  std::vector<bool> k_eq_v;
  std::vector<int> ffn_dim;
};

// Fills config.layers from `g` and config.n_kv_shared_layers / n_experts: a KV-shared layer reads the
// last non-shared layer of its own type. Throws g4::Error when no such layer exists.
void resolve_layers(ModelConfig& config, const LayerGeometry& g, const std::string& where);

}  // namespace g4

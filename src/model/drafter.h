#pragma once
// The Gemma 4 multi-token-prediction drafter ("assistant", Gemma4AssistantForCausalLM): a small decoder
// that proposes the next few tokens of a target Gemma 4 model from the target's last hidden state and
// its own K/V. It has no cache of its own: each of its layers is query-only and attends to the target's
// last non-shared layer of the same type (sliding or full). One draft step:
//
//   x      = pre_projection( concat(E_target(token) * sqrt(H_target), h_prev) )     [h]
//   x      = drafter layers (q_norm, RoPE at a fixed position, attention over the target's K/V with
//            scale 1, sandwich norms, GELU MLP, layer scalar)
//   hN     = norm(x)
//   logits = hN @ head^T (the tied embedding or lm_head), or the ordered ("masked") embedding: only the
//            tokens of the top centroids get logits, the others min(those) - 1; no softcap
//   h_next = post_projection(hN)                                                     [H_target]
//
// Drafting repeats the step, feeding back argmax(logits) and h_next at the same position
// (../shared/docs/gemma4-architecture.md §10).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/weight_source.h"
#include "model/weights.h"
#include "quant/weight.h"

namespace g4 {

class Model;

struct DrafterConfig {
  ModelConfig text;                 // the drafter's decoder; its layers' kv_source is -1 (another model's K/V)
  int backbone_hidden = 0;          // the target's hidden size
  bool ordered_embeddings = false;  // masked embedding head (centroids + token ordering)
  int n_centroids = 0;
  int centroid_top_k = 0;
};

// Reads a Hugging Face config.json of model_type gemma4_assistant. Throws g4::Error naming the field.
DrafterConfig drafter_config_from_hf_json(const Json& root, const std::string& where);

struct DrafterWeights {
  ModelWeights core;                    // embed (the tied head), final norm, query-only layers
  Weight head;                          // lm_head when untied, else the same as core.embed
  Weight pre_projection;                // [h, 2 * H_target]
  Weight post_projection;               // [H_target, h]
  Weight centroids;                     // [n_centroids, h] (ordered embeddings)
  std::vector<int32_t> token_ordering;  // [V]: centroid c owns ids [c * V / C, (c + 1) * V / C) of it
};

class Drafter {
 public:
  // `token_ordering` is empty unless config.ordered_embeddings.
  Drafter(DrafterConfig config, std::shared_ptr<WeightSource> source, std::vector<int32_t> token_ordering);

  const DrafterConfig& config() const { return config_; }
  const DrafterWeights& weights() const { return weights_; }

  // Throws g4::Error, naming the first difference, when this drafter cannot draft for `target`: hidden
  // size, vocabulary, and per layer type the head dim and KV heads of the target layer it reads.
  void check_compatible(const ModelConfig& target) const;

  // The target layer whose K/V drafter layer `layer` reads (the target's last non-shared layer of its type).
  static int target_kv_layer(const ModelConfig& target, LayerType type);

  // One step at position `pos`, attending to the target's K/V at positions below `pos` (full layers: all
  // of them, sliding layers: the last window + 1 ones; the cache's chunk must be at least 2 so that its
  // rings hold them). h_prev holds H_target values. Writes V logits and
  // H_target values of h_next.
  void step(const Model& target, const KVCache& cache, int64_t pos, int32_t token, const float* h_prev, float* logits,
            float* h_next) const;

  // k greedy steps from (token, h_prev) at position cache.n_past(): the drafted ids; `logits` ([k, V]) and
  // `hidden` ([k, H_target], the projected states) receive every step's outputs when given.
  std::vector<int32_t> draft(const Model& target, const KVCache& cache, int32_t token, const std::vector<float>& h_prev,
                             int k, std::vector<float>* logits = nullptr, std::vector<float>* hidden = nullptr) const;

  int64_t parameter_count() const;
  size_t weight_bytes() const;
  const WeightSource& source() const { return *source_; }

 private:
  void head_logits(const float* hn, float* logits) const;

  DrafterConfig config_;
  std::shared_ptr<WeightSource> source_;  // keeps the mapped files alive
  DrafterWeights weights_;
  std::vector<Rope> rope_;
};

// Random drafters that fit a target (demos, tests, benchmarks; drafter_random.cpp).
struct DrafterShape {
  int hidden = 256, ffn = 2048, layers = 4, heads = 4;
  bool ordered = true;  // ordered embeddings with 2048 centroids (top 32), as the E2B/E4B assistants
};
// The assistant shape released with targets of this size (E2B/E4B: 256 wide with ordered embeddings;
// larger targets: 1024 wide, 32 heads, a plain head, as the 31B assistant).
DrafterShape drafter_shape_for(const ModelConfig& target);
// A gemma4_assistant config.json for `target`: layers [sliding..., full], K/V geometry from the target.
Json drafter_config_json(const ModelConfig& target, const DrafterShape& shape);
// Random weights (type F32 or BF16) for a config; a random token ordering when ordered.
std::unique_ptr<Drafter> random_drafter(const Json& config, WType type, uint64_t seed);
// Writes config.json and model.safetensors (bf16) of a random drafter to `dir` (created if needed).
void write_random_hf_drafter(const std::string& dir, const Json& config, uint64_t seed);

// Loads a drafter from a Hugging Face folder (config.json of model_type gemma4_assistant + safetensors)
// or a llama.cpp GGUF file (architecture gemma4-assistant).
std::unique_ptr<Drafter> load_drafter(const std::string& path);
// Reads only the configuration (for checks before the weights are loaded).
DrafterConfig read_drafter_config(const std::string& path);
// The GGUF forms of both (drafter_gguf.cpp).
std::unique_ptr<Drafter> load_gguf_drafter(const std::string& path);
DrafterConfig read_gguf_drafter_config(const std::string& path);
class GgufFile;
DrafterConfig drafter_config_from_gguf(const GgufFile& f);  // throws g4::Error naming the key
// Is `dir` a Hugging Face drafter folder (config.json of model_type gemma4_assistant)?
bool is_hf_drafter(const std::string& dir);
// llama.cpp's architecture name for a drafter GGUF, and the ggml type id of its token ordering (I32); the
// writer is convert/drafter_gguf_writer.h.
inline constexpr const char* kDrafterGgufArch = "gemma4-assistant";
inline constexpr uint32_t kGgmlTypeI32 = 26;

}  // namespace g4

#pragma once
// The Gemma 4 / Gemma 3 text decoder: one forward pass over a batch of sequences, each with its own
// KV cache. Every token of the batch goes through the projections together (matrix-matrix); attention
// runs per sequence. Computation is f32 on weights stored in any format of quant/weight.h.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/weight_source.h"
#include "model/weights.h"

namespace g4 {

// Receives intermediate activations by name ("embed", "ple_token", "ple", "layer.<i>",
// "router.<i>.topk_index", "router.<i>.topk_weights"), laid out row-major with the given shape.
using ActivationSink = std::function<void(const std::string& name, const float* data, const std::vector<int64_t>& shape)>;

// Multimodal soft tokens of one batch item: rows that replace the embeddings of some of its tokens (the
// image/audio placeholders). Those tokens take the pad token's per-layer inputs, as transformers does.
struct SoftTokenRows {
  std::vector<int32_t> positions;  // token indices within the item, ascending
  const float* rows = nullptr;     // [positions.size(), hidden_size], unscaled encoder outputs
};

struct BatchItem {
  KVCache* cache = nullptr;
  const int32_t* ids = nullptr;
  int n_tokens = 0;
  bool all_logits = false;               // logits for every token (else the last one only)
  std::vector<float>* logits = nullptr;  // out: [all_logits ? n_tokens : 1, vocab]; may be null
  const ActivationSink* sink = nullptr;  // optional
  std::vector<float>* hidden = nullptr;  // out (optional): final-norm hidden state of the last token [H]
  const SoftTokenRows* soft = nullptr;   // optional
};

class Model {
 public:
  Model(ModelConfig config, std::shared_ptr<WeightSource> source);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

  // Runs one forward pass; each item's tokens follow its cache's n_past, and its cache advances by
  // n_tokens. An item may hold at most cache->max_chunk() tokens. Throws g4::Error for token ids out
  // of range or a full context.
  void forward(std::vector<BatchItem>& batch) const;

  // Feeds `ids` through the cache in chunks of cache.max_chunk(); returns the last token's logits
  // (or every token's when all_logits).
  std::vector<float> prefill(KVCache& cache, const std::vector<int32_t>& ids, bool all_logits = false,
                             const ActivationSink* sink = nullptr) const;

  // prefill() with soft tokens: rows[i] (hidden_size values each) replaces the embedding of ids[positions[i]]
  // (positions ascending). Throws g4::Error for a position out of range.
  std::vector<float> prefill_soft(KVCache& cache, const std::vector<int32_t>& ids, const std::vector<int32_t>& positions,
                                  const float* rows, bool all_logits = false) const;

  // A cache storing keys and values as `types` (f16 by default; KVType::F32 for exact comparisons with
  // reference activations: attention then multiplies in f32 too), keeping `checkpoints` sliding-window
  // checkpoints for rolling back past its ring (see KVCache).
  std::unique_ptr<KVCache> new_cache(int64_t max_context, int max_chunk = 512, KVTypes types = {},
                                     int checkpoints = 0) const;

  // Reads every weight page once (so the first answer does not wait on the disk), reporting progress
  // as (layers done, layers total).
  void prefetch(const std::function<void(int, int)>& progress = nullptr) const;

  int64_t parameter_count() const;
  size_t weight_bytes() const;

 private:
  void attention(int layer, const std::vector<BatchItem>& batch, const float* q, float* out) const;
  void store_kv(int layer, std::vector<BatchItem>& batch, const float* k, const float* v) const;
  void feed_forward(int layer, float* h, int64_t T, const ActivationSink* sink) const;
  void experts(int layer, const float* residual, int64_t T, float* out, const ActivationSink* sink) const;

  ModelConfig config_;
  std::shared_ptr<WeightSource> source_;  // keeps the mapped files alive
  ModelWeights weights_;
  std::vector<Rope> rope_;                 // per layer
};

// Loads a model from a Hugging Face folder (config.json + safetensors) or a GGUF file.
std::unique_ptr<Model> load_model(const std::string& path);
// Loads a llama.cpp GGUF file (architectures gemma4, gemma3). Defined in model_gguf.cpp.
std::unique_ptr<Model> load_gguf_model(const std::string& path);

}  // namespace g4

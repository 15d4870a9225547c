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
#include "model/multimodal.h"
#include "model/rope.h"
#include "model/weight_source.h"
#include "model/weights.h"

namespace g4 {

// Receives intermediate activations by name ("embed", "ple_token", "ple", "layer.<i>",
// "router.<i>.topk_index", "router.<i>.topk_weights"), laid out row-major with the given shape.
using ActivationSink = std::function<void(const std::string& name, const float* data, const std::vector<int64_t>& shape)>;

// Soft tokens from a media tower placed in a prompt: rows [count, hidden] (unscaled, as the tower gives
// them) replace the embeddings of the placeholder tokens at [offset, offset + count) of the ids passed
// with them. `bidirectional`: the span is one image block whose tokens see each other both ways on
// sliding layers (26B/31B); it is then never split across forward passes.
struct MediaSpan {
  int64_t offset = 0;
  int64_t count = 0;
  const float* rows = nullptr;
  bool bidirectional = false;
};

struct BatchItem {
  KVCache* cache = nullptr;
  const int32_t* ids = nullptr;
  int n_tokens = 0;
  bool all_logits = false;               // logits for every token (else the last one only)
  std::vector<float>* logits = nullptr;  // out: [all_logits ? n_tokens : 1, vocab]; may be null
  const ActivationSink* sink = nullptr;  // optional
  // out (optional): final-norm hidden state of the last token [H], or of every token [n_tokens, H] when
  // all_logits (what a speculative drafter continues from).
  std::vector<float>* hidden = nullptr;
  // Media (optional, both null for text): per token, the row that replaces its embedding or nullptr
  // (such tokens use the pad token's per-layer inputs, as the reference does); per token, the last
  // position of the bidirectional block it belongs to, or -1 (must lie inside this item).
  const float* const* embed_rows = nullptr;
  const int64_t* block_end = nullptr;
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
  // (or every token's when all_logits). `hidden` (optional) receives the final-norm hidden states the
  // same way (the last token's, or every token's when all_logits).
  std::vector<float> prefill(KVCache& cache, const std::vector<int32_t>& ids, bool all_logits = false,
                             const ActivationSink* sink = nullptr, std::vector<float>* hidden = nullptr) const;
  // The same with soft tokens replacing placeholder embeddings (spans sorted, inside `ids`); chunks end
  // before a bidirectional span that would not fit, and a span longer than the cache's chunk size is an
  // error naming both.
  std::vector<float> prefill(KVCache& cache, const std::vector<int32_t>& ids, const std::vector<MediaSpan>& media,
                             bool all_logits = false, const ActivationSink* sink = nullptr) const;

  // The media towers (vision, audio), or null for a text-only model.
  const MultimodalModel* media() const { return media_.get(); }
  void attach_media(std::shared_ptr<MultimodalModel> media) { media_ = std::move(media); }

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
  std::shared_ptr<MultimodalModel> media_;
};

// Loads a model from a Hugging Face folder (config.json + safetensors, with its media towers when the
// config has them) or a GGUF file (with the towers of a projector GGUF when `mmproj` names one).
std::unique_ptr<Model> load_model(const std::string& path, const std::string& mmproj = "");
// Loads a llama.cpp GGUF file (architectures gemma4, gemma3). Defined in model_gguf.cpp.
std::unique_ptr<Model> load_gguf_model(const std::string& path);

}  // namespace g4

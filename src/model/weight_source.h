#pragma once
// WeightSource: named tensors of one checkpoint, whatever the file format. Names are the Hugging Face
// text-decoder names without their prefix ("layers.3.self_attn.q_proj.weight", "embed_tokens.weight"),
// shapes in PyTorch order. A GGUF source maps llama.cpp's names onto these.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quant/weight.h"

namespace g4 {

struct SourceTensor {
  std::string name;                 // the file's own name, for error messages
  WType type = WType::F32;
  std::vector<int64_t> shape;       // PyTorch order: [out, in] for matrices
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;
};

// `t` as a rows x cols weight (rows * cols elements of its type), its byte count checked against that
// shape and type; throws g4::Error naming the tensor and file. Decoder and towers bind through it.
Weight as_weight(const SourceTensor& t, int64_t rows, int64_t cols);

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // nullptr when absent.
  virtual const SourceTensor* find(const std::string& name) const = 0;
  // The binder asks with the shape it expects; a synthetic source (random weights) creates the
  // tensor on demand, a file source ignores the hint.
  virtual const SourceTensor* find_shaped(const std::string& name, const std::vector<int64_t>& shape) const {
    (void)shape;
    return find(name);
  }
  // Where the weights come from (a folder or file), for error messages.
  virtual std::string describe() const = 0;
  // The names find() knows, sorted (empty for sources that make tensors on demand).
  virtual std::vector<std::string> names() const { return {}; }
};

// A Hugging Face folder: model.safetensors or model.safetensors.index.json shards; text-decoder tensors
// under "model.language_model." (multimodal wrapper) or "model." (text-only export). Other tensors
// (vision, audio, lm_head) are ignored. Files are memory-mapped.
std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir);
// The same, keeping the `extra` tensors that sit beside the decoder (the MTP drafter's projections) under
// their full names; integer tensors among them are read into `integers` instead.
std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir, const std::vector<std::string>& extra,
                                              std::map<std::string, std::vector<int64_t>>* integers);
// Every tensor of a Hugging Face folder whose name starts with `prefix`, named without it (the media
// towers: prefix "model." gives "vision_tower.…", "embed_vision.…"). Always memory-mapped.
std::unique_ptr<WeightSource> open_hf_weights_under(const std::string& dir, const std::string& prefix);

// Random weights of whatever shapes are asked for (bf16 or f32), deterministic for a seed: norm
// weights and scales near 1, matrices with variance 1/fan_in. For demo models and benchmarks.
class RandomWeightSource : public WeightSource {
 public:
  RandomWeightSource(WType type, uint64_t seed);
  ~RandomWeightSource() override;
  const SourceTensor* find(const std::string& name) const override;
  const SourceTensor* find_shaped(const std::string& name, const std::vector<int64_t>& shape) const override;
  std::string describe() const override { return "random weights"; }
  // Every tensor created so far, in creation order.
  std::vector<const SourceTensor*> created() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace g4

#pragma once
// WeightSource: named tensors of one checkpoint, whatever the file format. Names are the Hugging Face
// text-decoder names without their prefix ("layers.3.self_attn.q_proj.weight", "embed_tokens.weight"),
// shapes in PyTorch order. A GGUF source maps llama.cpp's names onto these.
#include <cstdint>
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

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // nullptr when absent.
  virtual const SourceTensor* find(const std::string& name) const = 0;
  // Where the weights come from (a folder or file), for error messages.
  virtual std::string describe() const = 0;
};

// A Hugging Face folder: model.safetensors or model.safetensors.index.json shards; text-decoder tensors
// under "model.language_model." (multimodal wrapper) or "model." (text-only export). Other tensors
// (vision, audio, lm_head) are ignored. Files are memory-mapped.
std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir);

}  // namespace g4

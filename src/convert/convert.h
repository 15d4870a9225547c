#pragma once
// Writing llama.cpp-compatible GGUF files: Hugging Face folder -> GGUF (convert), GGUF -> GGUF
// (quantize), and random weights at real Gemma 4 sizes (synth). Files are streamed tensor by tensor,
// so a file larger than memory can be written. Names, metadata and conventions follow llama.cpp's
// convert_hf_to_gguf.py (gemma4 / gemma3) and llama-quantize.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.h"
#include "quant/weight.h"

namespace g4 {
struct GgufTensor;
}

namespace g4 {

// "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_k" | "q5_k" | "q6_k" (case-insensitive).
WType parse_wtype(const std::string& s);
std::string wtype_lower_name(WType t);

// Every tensor the model binds for `config`, with its Hugging Face name and PyTorch shape, in binding
// order (found by running the binder against a recording source, so it always matches weights.cpp).
struct PlannedTensor {
  std::string hf_name;
  std::vector<int64_t> shape;
};
std::vector<PlannedTensor> plan_tensors(const ModelConfig& config);

// The ggml type a tensor is written with when the file's target type is `target`:
// 1-D tensors and norms F32; the MoE router F32; per_layer_model_proj kept in BF16 when `target` is a
// quantized type (llama-quantize leaves it alone); everything else `target`, falling back when the row
// width (ne[0]) is not a multiple of the block size: Q4_K/Q5_K/Q6_K -> Q8_0 (llama.cpp: Q5_0/Q5_1/Q8_0;
// Q5_0/Q5_1 are not supported here), 32-element types -> F16.
uint32_t gguf_tensor_type(const std::string& gguf_name, const std::vector<int64_t>& ne, WType target);

struct WriteReport {
  size_t n_tensors = 0;
  size_t bytes = 0;                    // tensor data bytes
  std::vector<std::string> fallbacks;  // "blk.0.ffn_down.weight: Q4_K -> Q8_0 (ne0 96)"
  std::vector<std::string> notes;      // vocabulary adaptation, llama.cpp incompatibilities
  std::vector<std::string> rules;      // per tensor of a mix: "blk.0.attn_v.weight: Q6_K (rule)"
};

struct ConvertOptions {
  std::string model_dir;   // Hugging Face folder (config.json + safetensors)
  std::string out;         // .gguf
  std::string vocab;       // GGUF to copy tokenizer.* from (default: ../shared gemma4-vocab.gguf)
  WType type = WType::BF16;
  bool progress = true;
};
WriteReport convert_hf_to_gguf(const ConvertOptions& o);

// Re-quantizes every quantizable tensor of `in` (llama-quantize's rules: 2-D/3-D "*weight" tensors other
// than norms, the router and per_layer_model_proj) to `type`; other tensors are copied unchanged.
WriteReport quantize_gguf(const std::string& in, const std::string& out, WType type, bool progress = true);

// Whether llama-quantize quantizes a tensor of this name and shape (tensor_allows_quantization).
bool llamacpp_quantizes(const std::string& name, const std::vector<int64_t>& ne);
// The same with the type of each quantizable tensor chosen by `rule` (a mix, convert/quant_mix.h), which
// names the rule it applied (listed in the report's `rules` when not empty).
struct TensorTypeChoice {
  uint32_t type;
  std::string rule;
};
using TensorTypeRule = std::function<TensorTypeChoice(const GgufTensor&)>;
WriteReport quantize_gguf(const std::string& in, const std::string& out, uint32_t llama_file_type,
                          const TensorTypeRule& rule, bool progress = true);

// Random weights at real sizes. arch: e2b | e4b | 26b-a4b | 31b; or config_json: a Hugging Face
// config.json (for small test models). Matrices ~ N(0, 1/fan_in), norms and scales 1.
struct SynthOptions {
  std::string arch;
  std::string config_json;
  std::string out;
  std::string vocab;
  WType type = WType::Q8_0;
  uint64_t seed = 1;
  bool progress = true;
};
ModelConfig synth_config(const std::string& arch);
WriteReport synth_gguf(const SynthOptions& o);

// ../shared/fixtures/tokenizer/gemma4-vocab.gguf next to the build's source tree, or "" when absent.
std::string default_vocab_path();

}  // namespace g4

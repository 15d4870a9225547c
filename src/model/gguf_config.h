#pragma once
// llama.cpp's GGUF conventions for Gemma 4 ("gemma4") and Gemma 3 ("gemma3"): tensor names, metadata
// keys, and the ModelConfig they describe. Read by load_gguf_model, written by the converter.
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/config.h"
#include "model/weight_source.h"

namespace g4 {

// "layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; "" when llama.cpp has no such tensor.
std::string gguf_name_for_hf(const std::string& hf_name);
// The inverse; also maps the split expert tensors ffn_gate_exps/ffn_up_exps to "experts.gate_proj" /
// "experts.up_proj" (older converters). "" for tensors the engine does not bind (rope_freqs, output).
std::string hf_name_for_gguf(const std::string& gguf_name);

// Reads the architecture metadata (and tensor shapes where the metadata is silent: vocabulary size, PLE
// vocabulary, K=V layers, proportional RoPE from rope_freqs) into a ModelConfig. Throws g4::Error naming
// the file and key for unsupported architectures or inconsistent metadata.
ModelConfig config_from_gguf(const GgufFile& f);

// End-of-generation ids from tokenizer metadata: eos/eot/eom ids plus the tokens llama.cpp treats as
// end of generation by their text (<eos>, <turn|>, <|tool_response>, <end_of_turn>).
std::vector<int> gguf_eog_ids(const GgufFile& f);

// Writes general.architecture and every <arch>.* key llama.cpp's loader reads for this config, the way
// llama.cpp's convert_hf_to_gguf.py writes them. file_type: llama_ftype value.
void write_gguf_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& model_name, uint32_t file_type);

// Copies tokenizer.* keys from a vocabulary GGUF, adapting the vocabulary to `vocab_size` entries
// (truncated, or padded with unused tokens; merges whose pieces fall outside are dropped; special ids
// outside are removed). Returns a short note of what was adapted ("" when nothing).
std::string copy_tokenizer_metadata(const GgufFile& vocab, GgufWriter& w, int vocab_size);

// The rope_freqs tensor llama.cpp uses for proportional RoPE on full layers: 1.0 for the rotating
// pairs, 1e30 for the rest (head_dim/2 values). Empty when the full layers do not use proportional RoPE.
std::vector<float> gguf_rope_freqs(const ModelConfig& c);

// The tensors of a llama.cpp GGUF under Hugging Face names, PyTorch shape order (ggml's ne reversed).
// Keeps `file` alive. A missing layer_output_scale reads as 1.0 (llama.cpp treats it as optional).
std::unique_ptr<WeightSource> open_gguf_weights(std::shared_ptr<const GgufFile> file);

// llama_ftype of a file whose matrices are mostly of ggml type `t`.
uint32_t llama_ftype_for(uint32_t ggml_type);

}  // namespace g4

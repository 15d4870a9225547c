#include "convert/demo_model.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "formats/safetensors.h"
#include "model/audio_tower.h"
#include "model/config.h"
#include "model/vision_tower.h"
#include "model/weights.h"

namespace g4 {

Json demo_gemma4_config() {
  Json types = Json::array();
  for (int i = 0; i < 10; ++i) types.push_back((i + 1) % 5 == 0 ? "full_attention" : "sliding_attention");
  return Json{
      {"architectures", {"Gemma4ForCausalLM"}},
      {"model_type", "gemma4_text"},
      {"vocab_size", 262144},
      {"vocab_size_per_layer_input", 262144},
      {"hidden_size", 128},
      {"hidden_size_per_layer_input", 16},
      {"intermediate_size", 256},
      {"num_hidden_layers", 10},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 1},
      {"head_dim", 32},
      {"global_head_dim", 64},
      {"num_kv_shared_layers", 4},
      {"use_double_wide_mlp", true},
      {"attention_k_eq_v", false},
      {"enable_moe_block", false},
      {"sliding_window", 512},
      {"layer_types", types},
      {"final_logit_softcapping", 30.0},
      {"rms_norm_eps", 1e-6},
      {"max_position_embeddings", 32768},
      {"bos_token_id", 2},
      {"eos_token_id", {1, 106}},
      {"pad_token_id", 0},
      {"tie_word_embeddings", true},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"rope_parameters",
       {{"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
        {"full_attention", {{"rope_type", "proportional"}, {"partial_rotary_factor", 0.25}, {"rope_theta", 1000000.0}}}}},
  };
}

Json demo_gemma4_media_config() {
  Json text = demo_gemma4_config();
  text.erase("architectures");
  const Json vision{
      {"model_type", "gemma4_vision"}, {"hidden_size", 64}, {"intermediate_size", 128}, {"num_hidden_layers", 2},
      {"num_attention_heads", 2}, {"num_key_value_heads", 2}, {"head_dim", 32}, {"patch_size", 16},
      {"pooling_kernel_size", 3}, {"position_embedding_size", 1024}, {"rms_norm_eps", 1e-6},
      {"rope_parameters", {{"rope_theta", 100.0}, {"rope_type", "axial"}}}, {"standardize", false},
      {"use_clipped_linears", false}, {"hidden_activation", "gelu_pytorch_tanh"}};
  const Json audio{
      {"model_type", "gemma4_audio"}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2},
      {"conv_kernel_size", 5}, {"attention_chunk_size", 12}, {"attention_context_left", 13}, {"attention_context_right", 0},
      {"attention_logit_cap", 50.0}, {"attention_invalid_logits_value", -1e9}, {"residual_weight", 0.5},
      {"gradient_clipping", 1e10}, {"rms_norm_eps", 1e-6}, {"output_proj_dims", 48}, {"subsampling_conv_channels", {128, 32}},
      {"use_clipped_linears", false}, {"hidden_act", "silu"}};
  // The media token ids of the real Gemma 4 vocabulary (tokenizer.gguf): <|image|>, <|image>, <image|>, ...
  return Json{{"architectures", {"Gemma4ForConditionalGeneration"}},
              {"model_type", "gemma4"},
              {"text_config", text},
              {"vision_config", vision},
              {"audio_config", audio},
              {"image_token_id", 258880},
              {"boi_token_id", 255999},
              {"eoi_token_id", 258882},
              {"audio_token_id", 258881},
              {"boa_token_id", 256000},
              {"eoa_token_index", 258883},
              {"video_token_id", 258884},
              {"tie_word_embeddings", true}};
}

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  out << text;
  if (!out) throw Error("writing '" + path + "' failed");
}

}  // namespace

void write_random_hf_model(const std::string& dir, const Json& config, uint64_t seed) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw Error("cannot create folder '" + dir + "': " + std::strerror(errno));
  ModelConfig c = config_from_hf_json(config, "demo config");
  RandomWeightSource source(WType::BF16, seed);
  bind_weights(c, source);  // asks for (and so creates) every tensor the config needs
  // The towers, the same way (a wrapper config only): binding them creates their tensors.
  const bool wrapper = config.contains("text_config");
  if (wrapper && config.contains("vision_config"))
    VisionTower(vision_config_from_hf(config["vision_config"], c.hidden_size, "demo vision_config"), source);
  if (wrapper && hf_config_has_audio(config))
    AudioTower(audio_config_from_hf_json(config, "demo config"), std::shared_ptr<WeightSource>(&source, [](WeightSource*) {}));
  std::vector<TensorToWrite> tensors;
  for (const SourceTensor* t : source.created()) {
    const bool tower = starts_with(t->name, "vision_tower.") || starts_with(t->name, "embed_vision.") ||
                       starts_with(t->name, "audio_tower.") || starts_with(t->name, "embed_audio.");
    const std::string prefix = wrapper && !tower ? "model.language_model." : "model.";
    TensorToWrite w{prefix + t->name, DType::BF16, t->shape, std::vector<uint8_t>(t->data, t->data + t->nbytes)};
    tensors.push_back(std::move(w));
  }
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}, {"note", "random weights"}});
  write_file(dir + "/config.json", config.dump(2) + "\n");
  Json gen{{"bos_token_id", c.bos_id}, {"eos_token_id", {1, 106, 50}}, {"pad_token_id", c.pad_id},
           {"do_sample", true}, {"temperature", 1.0}, {"top_k", 64}, {"top_p", 0.95}};
  write_file(dir + "/generation_config.json", gen.dump(2) + "\n");
}

}  // namespace g4

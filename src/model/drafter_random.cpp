// Random-weight MTP drafters shaped for a target (demos, tests, benchmarks).
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>

#include "core/error.h"
#include "formats/safetensors.h"
#include "model/drafter.h"

namespace g4 {

DrafterShape drafter_shape_for(const ModelConfig& target) {
  DrafterShape s;
  if (target.hidden_size > 4096 || target.is_moe()) {
    s.hidden = 1024;
    s.ffn = 8192;
    s.heads = 32;
    s.ordered = false;
  }
  return s;
}

Json drafter_config_json(const ModelConfig& target, const DrafterShape& shape) {
  const int sl = Drafter::target_kv_layer(target, LayerType::Sliding), fl = Drafter::target_kv_layer(target, LayerType::Full);
  if (sl < 0 || fl < 0) throw Error("a drafter needs a target with both sliding and full attention layers");
  const LayerPlan& s = target.layers[size_t(sl)];
  const LayerPlan& f = target.layers[size_t(fl)];
  Json types = Json::array();
  for (int i = 0; i < shape.layers; ++i) types.push_back(i + 1 == shape.layers ? "full_attention" : "sliding_attention");
  const std::string last = std::to_string(shape.layers - 1);
  Json text{
      {"model_type", "gemma4_text"},
      {"vocab_size", target.vocab_size},
      {"hidden_size", shape.hidden},
      {"intermediate_size", shape.ffn},
      {"num_hidden_layers", shape.layers},
      {"num_attention_heads", shape.heads},
      {"num_key_value_heads", s.n_kv_heads},
      {"head_dim", s.head_dim},
      {"per_layer_config", {{last, {{"head_dim", f.head_dim}, {"num_key_value_heads", f.n_kv_heads}}}}},
      {"num_kv_shared_layers", shape.layers},
      {"hidden_size_per_layer_input", 0},
      {"vocab_size_per_layer_input", 0},
      {"attention_k_eq_v", f.k_eq_v},
      {"sliding_window", target.sliding_window},
      {"layer_types", types},
      {"final_logit_softcapping", nullptr},
      {"rms_norm_eps", target.rms_norm_eps},
      {"max_position_embeddings", target.max_position_embeddings},
      {"tie_word_embeddings", true},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"rope_parameters",
       {{"sliding_attention", {{"rope_type", target.rope_sliding.type}, {"rope_theta", target.rope_sliding.theta}}},
        {"full_attention",
         {{"rope_type", target.rope_full.type}, {"partial_rotary_factor", target.rope_full.partial_rotary_factor},
          {"rope_theta", target.rope_full.theta}}}}},
  };
  Json c{{"architectures", {"Gemma4AssistantForCausalLM"}},
         {"model_type", "gemma4_assistant"},
         {"backbone_hidden_size", target.hidden_size},
         {"use_ordered_embeddings", shape.ordered},
         {"tie_word_embeddings", true},
         {"text_config", text}};
  if (shape.ordered) {
    const int C = target.vocab_size % 2048 == 0 ? 2048 : 1;
    c["num_centroids"] = C;
    c["centroid_intermediate_top_k"] = std::min(32, C);
  }
  return c;
}

namespace {

std::vector<int32_t> random_ordering(int V, uint64_t seed) {
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

}  // namespace

std::unique_ptr<Drafter> random_drafter(const Json& config, WType type, uint64_t seed) {
  DrafterConfig c = drafter_config_from_hf_json(config, "random drafter config");
  std::vector<int32_t> order = c.ordered_embeddings ? random_ordering(c.text.vocab_size, seed) : std::vector<int32_t>{};
  return std::make_unique<Drafter>(std::move(c), std::make_shared<RandomWeightSource>(type, seed), std::move(order));
}

void write_random_hf_drafter(const std::string& dir, const Json& config, uint64_t seed) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw Error("cannot create folder '" + dir + "': " + std::strerror(errno));
  DrafterConfig c = drafter_config_from_hf_json(config, "drafter config");
  auto source = std::make_shared<RandomWeightSource>(WType::BF16, seed);
  std::vector<int32_t> order = c.ordered_embeddings ? random_ordering(c.text.vocab_size, seed) : std::vector<int32_t>{};
  Drafter d(c, source, order);  // asks for (and so creates) every tensor
  static const char* top_level[] = {"pre_projection.weight", "post_projection.weight", "masked_embedding.centroids.weight"};
  std::vector<TensorToWrite> tensors;
  for (const SourceTensor* t : source->created()) {
    const bool top = std::find_if(std::begin(top_level), std::end(top_level), [&](const char* n) { return t->name == n; }) != std::end(top_level);
    tensors.push_back({top ? t->name : "model." + t->name, DType::BF16, t->shape, std::vector<uint8_t>(t->data, t->data + t->nbytes)});
  }
  if (c.ordered_embeddings) {
    TensorToWrite o{"masked_embedding.token_ordering", DType::I64, {int64_t(order.size())}, std::vector<uint8_t>(order.size() * 8)};
    for (size_t i = 0; i < order.size(); ++i) {
      const int64_t v = order[i];
      std::memcpy(o.bytes.data() + i * 8, &v, 8);
    }
    tensors.push_back(std::move(o));
  }
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}, {"note", "random weights"}});
  std::ofstream out(dir + "/config.json", std::ios::binary | std::ios::trunc);
  out << config.dump(2) << "\n";
  if (!out) throw Error("cannot write '" + dir + "/config.json'");
}

}  // namespace g4

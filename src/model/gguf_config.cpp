// llama.cpp's GGUF layout for Gemma 4 / Gemma 3: names, metadata, and the conventions its converter
// applies (Gemma 3 norms stored as 1+w, per-expert scale as ffn_down_exps.scale, proportional RoPE as a
// rope_freqs tensor, K=V layers without attn_v, KV-shared layers without attn_k/attn_v).
#include "model/gguf_config.h"

#include <cmath>
#include <cstring>
#include <unordered_set>

#include "core/error.h"
#include "quant/weight.h"

namespace g4 {

namespace {

struct NamePair {
  const char* hf;
  const char* gguf;
};

const NamePair kGlobal[] = {
    {"embed_tokens.weight", "token_embd.weight"},
    {"norm.weight", "output_norm.weight"},
    {"embed_tokens_per_layer.weight", "per_layer_token_embd.weight"},
    {"per_layer_model_projection.weight", "per_layer_model_proj.weight"},
    {"per_layer_projection_norm.weight", "per_layer_proj_norm.weight"},
    // The MTP drafter (gemma4-assistant).
    {"pre_projection.weight", "nextn.pre_projection.weight"},
    {"post_projection.weight", "nextn.post_projection.weight"},
    {"masked_embedding.centroids.weight", "masked_embd_centroids.weight"},
};

const NamePair kLayer[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"layer_scalar", "layer_output_scale.weight"},
    {"per_layer_input_gate.weight", "inp_gate.weight"},
    {"per_layer_projection.weight", "proj.weight"},
    {"post_per_layer_input_norm.weight", "post_norm.weight"},
    {"router.proj.weight", "ffn_gate_inp.weight"},
    {"router.scale", "ffn_gate_inp.scale"},
    {"router.per_expert_scale", "ffn_down_exps.scale"},
    {"experts.gate_up_proj", "ffn_gate_up_exps.weight"},
    {"experts.gate_proj", "ffn_gate_exps.weight"},
    {"experts.up_proj", "ffn_up_exps.weight"},
    {"experts.down_proj", "ffn_down_exps.weight"},
    {"pre_feedforward_layernorm_2.weight", "pre_ffw_norm_2.weight"},
    {"post_feedforward_layernorm_1.weight", "post_ffw_norm_1.weight"},
    {"post_feedforward_layernorm_2.weight", "post_ffw_norm_2.weight"},
};

// Splits "<prefix><int>.<rest>" into (int, rest).
bool split_layer(const std::string& name, const std::string& prefix, int& layer, std::string& rest) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j >= name.size() || name[j] != '.' || j - i > 6) return false;
  layer = std::stoi(name.substr(i, j - i));
  rest = name.substr(j + 1);
  return true;
}

std::string where_key(const GgufFile& f, const std::string& key) { return "'" + f.path() + "': metadata key '" + key + "'"; }

// A key that may be a scalar or a per-layer array (llama.cpp's get_key_or_arr).
std::vector<int64_t> per_layer_ints(const GgufFile& f, const std::string& key, int n_layers, int64_t def, bool required) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (required) throw Error("'" + f.path() + "': missing metadata key '" + key + "' (not a complete llama.cpp GGUF?)");
    return std::vector<int64_t>(size_t(n_layers), def);
  }
  if (v->is_array()) {
    std::vector<int64_t> a = f.get_array_ints(key);
    if (int64_t(a.size()) < n_layers)
      throw Error(where_key(f, key) + " has " + std::to_string(a.size()) + " entries for " + std::to_string(n_layers) + " layers");
    a.resize(size_t(n_layers));
    return a;
  }
  return std::vector<int64_t>(size_t(n_layers), f.get_i64(key));
}

int uniform(const std::vector<int64_t>& v, const GgufFile& f, const std::string& key) {
  for (int64_t x : v)
    if (x != v.front())
      throw Error(where_key(f, key) + " differs between layers; this engine needs one value for all layers");
  if (v.front() < 0 || v.front() > (int64_t(1) << 31)) throw Error(where_key(f, key) + " is out of range");
  return int(v.front());
}

// llama.cpp's hparams.set_swa_pattern(n): layer il is sliding iff n == 0 or il % n < n - 1.
std::vector<LayerType> swa_period_types(int n_layers, int64_t period) {
  std::vector<LayerType> t(size_t(n_layers), LayerType::Sliding);
  for (int i = 0; i < n_layers; ++i)
    if (!(period == 0 || i % period < period - 1)) t[size_t(i)] = LayerType::Full;
  return t;
}

}  // namespace

std::string gguf_name_for_hf(const std::string& hf) {
  for (const NamePair& p : kGlobal)
    if (hf == p.hf) return p.gguf;
  int layer;
  std::string rest;
  if (split_layer(hf, "layers.", layer, rest))
    for (const NamePair& p : kLayer)
      if (rest == p.hf) return "blk." + std::to_string(layer) + "." + p.gguf;
  return "";
}

std::string hf_name_for_gguf(const std::string& g) {
  for (const NamePair& p : kGlobal)
    if (g == p.gguf) return p.hf;
  int layer;
  std::string rest;
  if (split_layer(g, "blk.", layer, rest))
    for (const NamePair& p : kLayer)
      if (rest == p.gguf) return "layers." + std::to_string(layer) + "." + p.hf;
  return "";
}

std::vector<int> gguf_eog_ids(const GgufFile& f) {
  std::vector<int> out;
  auto add = [&](int64_t id) {
    if (id < 0) return;
    for (int x : out)
      if (x == id) return;
    out.push_back(int(id));
  };
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (f.has(k)) add(f.get_i64(k));
  if (const GgufValue* toks = f.find("tokenizer.ggml.tokens"); toks && toks->is_array() && toks->elem_type() == GgufType::STRING) {
    for (uint64_t i = 0; i < toks->size(); ++i) {
      std::string_view s = toks->string_at(i);
      if (s == "<eos>" || s == "<turn|>" || s == "<|tool_response>" || s == "<end_of_turn>") add(int64_t(i));
    }
  }
  return out;
}

ModelConfig config_from_gguf(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  // gemma4-assistant: the MTP drafter's decoder (model/drafter_gguf.cpp reads the rest).
  const bool drafter = arch == "gemma4-assistant";
  if (arch != "gemma4" && arch != "gemma3" && !drafter)
    throw Error("'" + f.path() + "': architecture '" + arch + "' is not supported (supported: gemma4, gemma3)");
  const std::string p = arch + ".";
  const bool g4 = arch == "gemma4" || drafter;
  ModelConfig c;
  c.family = g4 ? Family::Gemma4 : Family::Gemma3;
  c.model_type = arch + " (gguf)";
  c.n_layers = int(f.get_u32(p + "block_count"));
  const int L = c.n_layers;
  if (L <= 0 || L > 4096) throw Error(where_key(f, p + "block_count") + " is out of range");
  c.hidden_size = int(f.get_u32(p + "embedding_length"));
  c.n_heads = uniform(per_layer_ints(f, p + "attention.head_count", L, 0, true), f, p + "attention.head_count");
  if (c.n_heads <= 0) throw Error(where_key(f, p + "attention.head_count") + " must be positive");
  std::vector<int64_t> kv = per_layer_ints(f, p + "attention.head_count_kv", L, c.n_heads, false);
  std::vector<int64_t> ff = per_layer_ints(f, p + "feed_forward_length", L, 0, true);
  c.intermediate_size = int(ff.front());
  c.rms_norm_eps = f.get_f32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  c.final_logit_softcap = f.get_f32(p + "final_logit_softcapping", 0.0f);
  c.max_position_embeddings = int(f.get_u32(p + "context_length", 131072));
  c.sliding_window = int(f.get_u32(p + "attention.sliding_window", 0));

  const GgufTensor* embd = f.find_tensor("token_embd.weight");
  if (!embd) throw Error("'" + f.path() + "' has no token_embd.weight tensor (not a model file? a vocab-only GGUF?)");
  if (embd->ne.size() != 2 || embd->ne[0] != c.hidden_size)
    throw Error("'" + f.path() + "': token_embd.weight has shape " + embd->shape_str() + ", expected [" + std::to_string(c.hidden_size) + ", vocab]");
  c.vocab_size = int(embd->ne[1]);

  const int hd_full = int(f.get_u32(p + "attention.key_length", uint32_t(c.hidden_size / c.n_heads)));
  const int hd_swa = int(f.get_u32(p + "attention.key_length_swa", uint32_t(hd_full)));
  if (int(f.get_u32(p + "attention.value_length", uint32_t(hd_full))) != hd_full ||
      int(f.get_u32(p + "attention.value_length_swa", uint32_t(hd_swa))) != hd_swa)
    throw Error("'" + f.path() + "': key and value head sizes differ; Gemma needs them equal");

  LayerGeometry g;
  if (g4) {
    const std::string key = p + "attention.sliding_window_pattern";
    const GgufValue* v = f.find(key);
    if (!v) throw Error("'" + f.path() + "': missing metadata key '" + key + "'");
    if (v->is_array()) {
      std::vector<int64_t> a = f.get_array_ints(key);
      if (int(a.size()) < L) throw Error(where_key(f, key) + " has fewer entries than layers");
      for (int i = 0; i < L; ++i) g.types.push_back(a[size_t(i)] ? LayerType::Sliding : LayerType::Full);
    } else {
      g.types = swa_period_types(L, f.get_i64(key));
    }
  } else if (c.sliding_window > 0) {
    g.types = swa_period_types(L, f.get_i64(p + "attention.sliding_window_pattern", 6));
  } else {
    g.types.assign(size_t(L), LayerType::Full);
  }

  // Gemma 4 specifics.
  c.n_kv_shared_layers = g4 && !drafter ? int(f.get_u32(p + "attention.shared_kv_layers", 0)) : 0;
  const int first_shared = L - c.n_kv_shared_layers;
  if (g4) {
    c.ple_dim = int(f.get_u32(p + "embedding_length_per_layer_input", 0));
    if (c.ple_dim > 0) {
      const GgufTensor* ple = f.find_tensor("per_layer_token_embd.weight");
      if (!ple || ple->ne.size() != 2)
        throw Error("'" + f.path() + "': embedding_length_per_layer_input is set but per_layer_token_embd.weight is missing or not 2-D");
      c.ple_vocab = int(ple->ne[1]);
    }
    c.n_experts = int(f.get_u32(p + "expert_count", 0));
    if (c.n_experts > 0) {
      c.top_k_experts = int(f.get_u32(p + "expert_used_count"));
      c.moe_intermediate_size = uniform(per_layer_ints(f, p + "expert_feed_forward_length", L, 0, true), f, p + "expert_feed_forward_length");
      if (c.top_k_experts < 1 || c.top_k_experts > c.n_experts)
        throw Error(where_key(f, p + "expert_used_count") + " must be between 1 and expert_count");
    }
  }
  for (int i = 0; i < L; ++i) {
    const bool full = g.types[size_t(i)] == LayerType::Full;
    g.head_dim.push_back(full ? hd_full : hd_swa);
    g.n_kv_heads.push_back(int(kv[size_t(i)]));
    g.ffn_dim.push_back(int(ff[size_t(i)]));
    bool k_eq_v = false;
    if (g4 && i < first_shared) {
      const std::string b = "blk." + std::to_string(i) + ".";
      if (f.find_tensor(b + "attn_qkv.weight"))
        throw Error("'" + f.path() + "': fused attn_qkv tensors (llama.cpp v0.5 layout) are not supported; convert the Hugging Face checkpoint with 'gemma4 convert'");
      k_eq_v = f.find_tensor(b + "attn_k.weight") && !f.find_tensor(b + "attn_v.weight");
    }
    g.k_eq_v.push_back(k_eq_v);
  }

  // RoPE.
  if (g4) {
    c.attention_scale = 1.0f;
    c.rope_sliding.type = "default";
    c.rope_sliding.theta = f.get_f32(p + "rope.freq_base_swa", 10000.0f);
    c.rope_full.theta = f.get_f32(p + "rope.freq_base", 10000.0f);
    const int n_rot_full = int(f.get_u32(p + "rope.dimension_count", uint32_t(hd_full)));
    const int n_rot_swa = int(f.get_u32(p + "rope.dimension_count_swa", uint32_t(n_rot_full == hd_full ? hd_swa : n_rot_full)));
    if (n_rot_full != hd_full || n_rot_swa != hd_swa)
      throw Error("'" + f.path() + "': partial RoPE through rope.dimension_count (" + std::to_string(n_rot_full) + "/" +
                  std::to_string(n_rot_swa) + " of head sizes " + std::to_string(hd_full) + "/" + std::to_string(hd_swa) +
                  ") is not a Gemma 4 layout");
    c.rope_full.type = "default";
    if (const GgufTensor* rf = f.find_tensor("rope_freqs.weight")) {
      f.require_supported(*rf);
      if (rf->numel() != hd_full / 2)
        throw Error("'" + f.path() + "': rope_freqs.weight has " + std::to_string(rf->numel()) + " values, expected " + std::to_string(hd_full / 2));
      Weight w;
      w.data = rf->data;
      w.type = WType(rf->ggml_type);
      w.rows = 1;
      w.cols = rf->numel();
      std::vector<float> ff_(size_t(w.cols));
      dequantize_row(w, 0, ff_.data());
      int k = 0;
      while (k < int(ff_.size()) && ff_[size_t(k)] == 1.0f) ++k;
      for (size_t j = size_t(k); j < ff_.size(); ++j)
        if (!(ff_[j] >= 1e20f))
          throw Error("'" + f.path() + "': rope_freqs.weight holds general frequency factors (value " + std::to_string(ff_[j]) + " at " +
                      std::to_string(j) + "); only Gemma 4's proportional pattern (1.0 then 1e30) is supported");
      c.rope_full.type = "proportional";
      double pr = 2.0 * k / hd_full;
      while (int(std::floor(pr * hd_full / 2.0)) < k) pr = std::nextafter(pr, 2.0);
      c.rope_full.partial_rotary_factor = pr;
    }
  } else {
    c.norm_adds_one = false;  // llama.cpp's converter already stored 1 + w
    c.has_v_norm = false;
    c.has_layer_scalar = false;
    c.rope_full.theta = f.get_f32(p + "rope.freq_base", 10000.0f);
    c.rope_sliding.theta = f.get_f32(p + "rope.freq_base_swa", 10000.0f);
    std::string scaling = f.get_string(p + "rope.scaling.type", "linear");
    float factor = f.get_f32(p + "rope.scaling.factor", f.get_f32(p + "rope.scale_linear", 0.0f));
    if (factor != 0.0f && factor != 1.0f) {
      if (scaling != "linear")
        throw Error(where_key(f, p + "rope.scaling.type") + " is '" + scaling + "'; only linear scaling is supported for Gemma 3");
      c.rope_full.type = "linear";
      c.rope_full.factor = factor;
    }
    // llama.cpp (gemma3.cpp): 27B (62 layers) scales by 1/sqrt(n_embd/n_head), the others by 1/sqrt(head_dim).
    c.attention_scale = L == 62 ? float(1.0 / std::sqrt(double(c.hidden_size / c.n_heads))) : float(1.0 / std::sqrt(double(hd_full)));
  }

  // Token ids.
  c.bos_id = int(f.get_i64("tokenizer.ggml.bos_token_id", 2));
  c.eos_id = int(f.get_i64("tokenizer.ggml.eos_token_id", 1));
  c.pad_id = int(f.get_i64("tokenizer.ggml.padding_token_id", 0));
  c.eog_ids = gguf_eog_ids(f);
  if (c.eog_ids.empty()) c.eog_ids.push_back(c.eos_id);

  resolve_layers(c, g, "'" + f.path() + "'");
  return c;
}

std::vector<float> gguf_rope_freqs(const ModelConfig& c) {
  int hd_full = 0;
  for (const LayerPlan& p : c.layers)
    if (p.type == LayerType::Full) { hd_full = p.head_dim; break; }
  if (hd_full == 0 || c.rope_full.type != "proportional") return {};
  const int k = int(std::floor(c.rope_full.partial_rotary_factor * hd_full / 2.0));
  std::vector<float> v(size_t(hd_full / 2), 1e30f);
  for (int i = 0; i < k && i < hd_full / 2; ++i) v[size_t(i)] = 1.0f;
  return v;
}

uint32_t llama_ftype_for(uint32_t t) {
  switch (t) {
    case 0: return 0;    // ALL_F32
    case 1: return 1;    // MOSTLY_F16
    case 2: return 2;    // MOSTLY_Q4_0
    case 8: return 7;    // MOSTLY_Q8_0
    case 12: return 14;  // MOSTLY_Q4_K_S
    case 13: return 16;  // MOSTLY_Q5_K_S
    case 14: return 18;  // MOSTLY_Q6_K
    case 30: return 32;  // MOSTLY_BF16
    case 3: return 3;    // MOSTLY_Q4_1
    case 6: return 8;    // MOSTLY_Q5_0
    case 7: return 9;    // MOSTLY_Q5_1
    case 10: return 10;  // MOSTLY_Q2_K
    case 11: return 11;  // MOSTLY_Q3_K_S
    case 20: return 25;  // MOSTLY_IQ4_NL
    case 23: return 30;  // MOSTLY_IQ4_XS
    case 18: return 23;  // MOSTLY_IQ3_XXS
    case 21: return 26;  // MOSTLY_IQ3_S
    case 22: return 28;  // MOSTLY_IQ2_S
    case 29: return 31;  // MOSTLY_IQ1_M
    case 39: return 38;  // MOSTLY_MXFP4_MOE
  }
  return 1024;  // GUESSED
}

void write_gguf_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& model_name, uint32_t file_type) {
  const bool g4 = c.family == Family::Gemma4;
  const std::string arch = g4 ? "gemma4" : "gemma3";
  const std::string p = arch + ".";
  const int L = c.n_layers;
  int hd_full = 0, hd_swa = 0;
  bool any_swa = false;
  for (const LayerPlan& lp : c.layers) {
    int& hd = lp.type == LayerType::Full ? hd_full : hd_swa;
    if (hd == 0) hd = lp.head_dim;
    if (hd != lp.head_dim)
      throw Error("layers of the same attention type have different head sizes; llama.cpp's GGUF cannot express that");
    any_swa = any_swa || lp.type == LayerType::Sliding;
  }
  if (hd_full == 0) hd_full = hd_swa;
  if (hd_swa == 0) hd_swa = hd_full;
  bool kv_uniform = true, ff_uniform = true;
  for (const LayerPlan& lp : c.layers) {
    kv_uniform = kv_uniform && lp.n_kv_heads == c.layers[0].n_kv_heads;
    ff_uniform = ff_uniform && lp.ffn_dim == c.layers[0].ffn_dim;
  }
  std::vector<int64_t> kv_arr, ff_arr;
  for (const LayerPlan& lp : c.layers) {
    kv_arr.push_back(lp.n_kv_heads);
    ff_arr.push_back(lp.ffn_dim);
  }

  w.set_string("general.architecture", arch);
  w.set_string("general.type", "model");
  w.set_string("general.name", model_name);
  w.set_u32(p + "block_count", uint32_t(L));
  w.set_u32(p + "context_length", uint32_t(c.max_position_embeddings > 0 ? c.max_position_embeddings : 131072));
  w.set_u32(p + "embedding_length", uint32_t(c.hidden_size));
  if (ff_uniform) w.set_u32(p + "feed_forward_length", uint32_t(c.layers[0].ffn_dim));
  else w.set(p + "feed_forward_length", GgufValue::int_array(GgufType::I32, ff_arr));
  w.set_u32(p + "attention.head_count", uint32_t(c.n_heads));
  if (kv_uniform) w.set_u32(p + "attention.head_count_kv", uint32_t(c.layers[0].n_kv_heads));
  else w.set(p + "attention.head_count_kv", GgufValue::int_array(GgufType::I32, kv_arr));
  w.set_f32(p + "rope.freq_base", float(c.rope_full.theta));
  w.set_f32(p + "rope.freq_base_swa", float(c.rope_sliding.theta));
  w.set_f32(p + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  if (c.is_moe()) {
    w.set_u32(p + "expert_count", uint32_t(c.n_experts));
    w.set_u32(p + "expert_used_count", uint32_t(c.top_k_experts));
  }
  w.set_u32(p + "attention.key_length", uint32_t(hd_full));
  w.set_u32(p + "attention.value_length", uint32_t(hd_full));
  w.set_u32("general.file_type", file_type);
  w.set_u32("general.quantization_version", 2);
  if (c.final_logit_softcap > 0) w.set_f32(p + "final_logit_softcapping", c.final_logit_softcap);
  if (g4) {
    w.set_u32(p + "attention.sliding_window", uint32_t(c.sliding_window));
    w.set_u32(p + "attention.shared_kv_layers", uint32_t(c.n_kv_shared_layers));
    w.set_u32(p + "embedding_length_per_layer_input", uint32_t(c.ple_dim));
    std::vector<int64_t> swa;
    for (const LayerPlan& lp : c.layers) swa.push_back(lp.type == LayerType::Sliding ? 1 : 0);
    w.set(p + "attention.sliding_window_pattern", GgufValue::int_array(GgufType::BOOL, swa));
    w.set_u32(p + "attention.key_length_swa", uint32_t(hd_swa));
    w.set_u32(p + "attention.value_length_swa", uint32_t(hd_swa));
    if (c.is_moe()) w.set_u32(p + "expert_feed_forward_length", uint32_t(c.moe_intermediate_size));
    w.set_u32(p + "rope.dimension_count", uint32_t(hd_full));
    w.set_u32(p + "rope.dimension_count_swa", uint32_t(hd_swa));
    if (c.rope_sliding.type != "default" || (c.rope_full.type != "proportional" && c.rope_full.type != "default"))
      throw Error("RoPE type " + c.rope_full.type + "/" + c.rope_sliding.type + " cannot be written as a gemma4 GGUF");
  } else {
    if (c.rope_full.type == "linear" && c.rope_full.factor != 1.0) {
      w.set_string(p + "rope.scaling.type", "linear");
      w.set_f32(p + "rope.scaling.factor", float(c.rope_full.factor));
    } else if (c.rope_full.type != "default" && c.rope_full.type != "linear") {
      throw Error("RoPE type " + c.rope_full.type + " cannot be written as a gemma3 GGUF");
    }
    if (any_swa) {
      w.set_u32(p + "attention.sliding_window", uint32_t(c.sliding_window));
      // llama.cpp's gemma3 reads a period (default 6): find one that reproduces the layer types.
      int period = -1;
      for (int n = 1; n <= L + 1 && period < 0; ++n) {
        std::vector<LayerType> t = swa_period_types(L, n);
        bool ok = true;
        for (int i = 0; i < L; ++i) ok = ok && t[size_t(i)] == c.layers[size_t(i)].type;
        if (ok) period = n;
      }
      if (period < 0) throw Error("the sliding/full layer pattern is not periodic; llama.cpp's gemma3 GGUF cannot express it");
      w.set_u32(p + "attention.sliding_window_pattern", uint32_t(period));
    }
  }
}

std::string copy_tokenizer_metadata(const GgufFile& vocab, GgufWriter& w, int vocab_size) {
  const GgufValue* toks = vocab.find("tokenizer.ggml.tokens");
  if (!toks || !toks->is_array() || toks->elem_type() != GgufType::STRING)
    throw Error("'" + vocab.path() + "' has no tokenizer.ggml.tokens; pass a GGUF with tokenizer metadata (--vocab)");
  const int64_t n_src = int64_t(toks->size());
  std::string note;
  const bool adapt = n_src != vocab_size;
  if (adapt)
    note = "vocabulary adapted from " + std::to_string(n_src) + " to " + std::to_string(vocab_size) + " tokens";
  std::unordered_set<std::string_view> kept;
  std::vector<std::string> pad_tokens;
  if (adapt) {
    for (int64_t i = 0; i < std::min<int64_t>(n_src, vocab_size); ++i) kept.insert(toks->string_at(uint64_t(i)));
    for (int64_t i = n_src; i < vocab_size; ++i) pad_tokens.push_back("<unused_pad_" + std::to_string(i) + ">");
  }
  for (const std::string& key : vocab.keys()) {
    if (key.compare(0, 10, "tokenizer.") != 0) continue;
    const GgufValue& v = vocab.get(key);
    if (!adapt) {
      w.set(key, v);
      continue;
    }
    if (key == "tokenizer.ggml.tokens") {
      std::vector<std::string> t;
      for (int64_t i = 0; i < std::min<int64_t>(n_src, vocab_size); ++i) t.emplace_back(v.string_at(uint64_t(i)));
      t.insert(t.end(), pad_tokens.begin(), pad_tokens.end());
      w.set(key, GgufValue::string_array(t));
    } else if ((key == "tokenizer.ggml.scores" || key == "tokenizer.ggml.token_type") && v.is_array() && int64_t(v.size()) == n_src) {
      if (key == "tokenizer.ggml.scores") {
        std::vector<double> s;
        for (int64_t i = 0; i < vocab_size; ++i) s.push_back(i < n_src ? v.float_at(uint64_t(i)) : 0.0);
        w.set(key, GgufValue::float_array(GgufType::F32, s));
      } else {
        std::vector<int64_t> s;
        for (int64_t i = 0; i < vocab_size; ++i) s.push_back(i < n_src ? v.int_at(uint64_t(i)) : 5 /* UNUSED */);
        w.set(key, GgufValue::int_array(v.elem_type(), s));
      }
    } else if (key == "tokenizer.ggml.merges" && v.is_array() && v.elem_type() == GgufType::STRING) {
      std::vector<std::string> m;
      std::string joined;
      for (uint64_t i = 0; i < v.size(); ++i) {
        std::string_view s = v.string_at(i);
        size_t sp = s.find(' ', 1);
        if (sp == std::string_view::npos) continue;
        std::string_view a = s.substr(0, sp), b = s.substr(sp + 1);
        joined.assign(a);
        joined.append(b);
        if (kept.count(a) && kept.count(b) && kept.count(joined)) m.emplace_back(s);
      }
      note += ", " + std::to_string(m.size()) + " of " + std::to_string(v.size()) + " merges kept";
      w.set(key, GgufValue::string_array(m));
    } else if (key.size() > 9 && key.compare(key.size() - 9, 9, "_token_id") == 0 && v.is_integer()) {
      if (v.as_i64() < vocab_size) w.set(key, v);
      else note += ", " + key + " dropped";
    } else {
      w.set(key, v);
    }
  }
  return note;
}

}  // namespace g4

// Reads Hugging Face config.json files of Gemma 4 and Gemma 3 into a ModelConfig.
// Two Gemma 4 layouts exist: transformers >= 5.15 writes `per_layer_config` overrides
// ({"05": {"head_dim": 512, ...}}); the released hub checkpoints keep flat `global_head_dim` /
// `num_global_key_value_heads`, inside `text_config` of a `gemma4` wrapper.
#include <cmath>

#include "core/error.h"
#include "model/config.h"

namespace g4 {

namespace {

struct Reader {
  const Json& j;
  std::string where;

  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }

  int get_int(const char* key) const {
    if (!has(key)) throw Error(where + ": missing field '" + key + "'");
    if (!j[key].is_number_integer()) throw Error(where + ": field '" + std::string(key) + "' must be an integer");
    long long v = j[key].get<long long>();
    if (v < 0 || v > (1ll << 31)) throw Error(where + ": field '" + std::string(key) + "' is out of range");
    return int(v);
  }
  int get_int(const char* key, int fallback) const { return has(key) ? get_int(key) : fallback; }

  double get_double(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_number()) throw Error(where + ": field '" + std::string(key) + "' must be a number");
    return j[key].get<double>();
  }
  bool get_bool(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_boolean()) throw Error(where + ": field '" + std::string(key) + "' must be true or false");
    return j[key].get<bool>();
  }
};

RopeParams read_rope(const Json& r, const std::string& where, RopeParams defaults) {
  if (r.is_null()) return defaults;
  if (!r.is_object()) throw Error(where + ": rope parameters must be an object");
  RopeParams p = defaults;
  if (r.contains("rope_type") && r["rope_type"].is_string()) p.type = r["rope_type"].get<std::string>();
  if (r.contains("rope_theta") && r["rope_theta"].is_number()) p.theta = r["rope_theta"].get<double>();
  if (r.contains("partial_rotary_factor") && r["partial_rotary_factor"].is_number())
    p.partial_rotary_factor = r["partial_rotary_factor"].get<double>();
  if (r.contains("factor") && r["factor"].is_number()) p.factor = r["factor"].get<double>();
  if (p.type != "default" && p.type != "proportional" && p.type != "linear")
    throw Error(where + ": unsupported rope_type '" + p.type + "' (supported: default, proportional, linear)");
  return p;
}

std::vector<LayerType> read_layer_types(const Reader& r, int n_layers, int default_period) {
  std::vector<LayerType> types(size_t(n_layers), LayerType::Sliding);
  if (r.has("layer_types")) {
    const Json& lt = r.j["layer_types"];
    if (!lt.is_array() || int(lt.size()) != n_layers)
      throw Error(r.where + ": layer_types must list exactly num_hidden_layers (" + std::to_string(n_layers) + ") entries");
    for (int i = 0; i < n_layers; ++i) {
      std::string t = lt[size_t(i)].is_string() ? lt[size_t(i)].get<std::string>() : "";
      if (t == "full_attention") types[size_t(i)] = LayerType::Full;
      else if (t != "sliding_attention")
        throw Error(r.where + ": layer_types[" + std::to_string(i) + "] is '" + t + "', expected sliding_attention or full_attention");
    }
  } else {
    int period = r.get_int("sliding_window_pattern", r.get_int("_sliding_window_pattern", default_period));
    for (int i = 0; i < n_layers; ++i)
      if (period > 0 && (i + 1) % period == 0) types[size_t(i)] = LayerType::Full;
  }
  return types;
}

// The fields both families name the same way.
ModelConfig read_common(const Reader& r, Family family, int default_window) {
  ModelConfig c;
  c.family = family;
  c.vocab_size = r.get_int("vocab_size");
  c.hidden_size = r.get_int("hidden_size");
  c.n_layers = r.get_int("num_hidden_layers");
  c.n_heads = r.get_int("num_attention_heads");
  c.intermediate_size = r.get_int("intermediate_size");
  c.sliding_window = r.get_int("sliding_window", default_window);
  c.rms_norm_eps = float(r.get_double("rms_norm_eps", 1e-6));
  c.final_logit_softcap = float(r.get_double("final_logit_softcapping", 0.0));
  c.max_position_embeddings = r.get_int("max_position_embeddings", 131072);
  return c;
}

ModelConfig read_gemma4(const Reader& r) {
  ModelConfig c = read_common(r, Family::Gemma4, 512);
  c.attention_scale = 1.0f;
  c.ple_dim = r.get_int("hidden_size_per_layer_input", 0);
  c.ple_vocab = r.get_int("vocab_size_per_layer_input", c.vocab_size);
  c.n_kv_shared_layers = r.get_int("num_kv_shared_layers", 0);
  if (r.get_bool("enable_moe_block", false)) {
    c.n_experts = r.get_int("num_experts");
    c.top_k_experts = r.get_int("top_k_experts");
    c.moe_intermediate_size = r.get_int("moe_intermediate_size");
    if (c.top_k_experts < 1 || c.top_k_experts > c.n_experts)
      throw Error(r.where + ": top_k_experts must be between 1 and num_experts");
  }
  std::string bidir = r.has("use_bidirectional_attention") && r.j["use_bidirectional_attention"].is_string()
                          ? r.j["use_bidirectional_attention"].get<std::string>() : "";
  if (bidir == "all") c.sliding_window = c.sliding_window / 2 + 1;

  RopeParams sliding_default, full_default;
  full_default.type = "proportional";
  full_default.theta = 1e6;
  full_default.partial_rotary_factor = 0.25;
  const Json rp = r.has("rope_parameters") ? r.j["rope_parameters"] : Json();
  c.rope_sliding = read_rope(rp.is_object() && rp.contains("sliding_attention") ? rp["sliding_attention"] : Json(), r.where, sliding_default);
  c.rope_full = read_rope(rp.is_object() && rp.contains("full_attention") ? rp["full_attention"] : Json(), r.where, full_default);

  LayerGeometry g;
  g.types = read_layer_types(r, c.n_layers, 6);
  if (!g.types.empty()) g.types.back() = LayerType::Full;  // transformers forces the last layer to full
  const int head_dim = r.get_int("head_dim", 256);
  const int kv_heads = r.get_int("num_key_value_heads");
  const bool k_eq_v = r.get_bool("attention_k_eq_v", false);
  const int global_head_dim = r.get_int("global_head_dim", 0);
  const int global_kv = r.get_int("num_global_key_value_heads", 0);
  const bool double_wide = r.get_bool("use_double_wide_mlp", false);
  const int first_shared = c.n_layers - c.n_kv_shared_layers;
  for (int i = 0; i < c.n_layers; ++i) {
    bool full = g.types[size_t(i)] == LayerType::Full;
    g.head_dim.push_back(full && global_head_dim ? global_head_dim : head_dim);
    g.k_eq_v.push_back(k_eq_v && full);
    g.n_kv_heads.push_back(k_eq_v && full && global_kv ? global_kv : kv_heads);
    bool shared = first_shared > 0 && i >= first_shared;
    g.ffn_dim.push_back(c.intermediate_size * (double_wide && shared ? 2 : 1));
  }
  if (r.has("per_layer_config")) {
    const Json& plc = r.j["per_layer_config"];
    if (!plc.is_object()) throw Error(r.where + ": per_layer_config must be an object keyed by layer index");
    for (auto it = plc.begin(); it != plc.end(); ++it) {
      int i = -1;
      try {
        size_t used = 0;
        i = std::stoi(it.key(), &used);
        if (used != it.key().size()) i = -1;
      } catch (...) {
      }
      if (i < 0 || i >= c.n_layers)
        throw Error(r.where + ": per_layer_config key '" + it.key() + "' is not a layer index below " + std::to_string(c.n_layers));
      Reader lr{it.value(), r.where + " per_layer_config[" + it.key() + "]"};
      g.head_dim[size_t(i)] = lr.get_int("head_dim", g.head_dim[size_t(i)]);
      g.n_kv_heads[size_t(i)] = lr.get_int("num_key_value_heads", g.n_kv_heads[size_t(i)]);
      g.ffn_dim[size_t(i)] = lr.get_int("intermediate_size", g.ffn_dim[size_t(i)]);
    }
  }
  resolve_layers(c, g, r.where);
  return c;
}

ModelConfig read_gemma3(const Reader& r) {
  ModelConfig c = read_common(r, Family::Gemma3, 4096);
  c.attn_logit_softcap = float(r.get_double("attn_logit_softcapping", 0.0));
  c.norm_adds_one = true;
  c.has_v_norm = false;
  c.has_layer_scalar = false;
  const int head_dim = r.get_int("head_dim", 256);
  c.attention_scale = float(1.0 / std::sqrt(r.get_double("query_pre_attn_scalar", head_dim)));

  RopeParams sliding_default, full_default;
  sliding_default.theta = r.get_double("rope_local_base_freq", 10000.0);
  full_default.theta = r.get_double("rope_theta", 1e6);
  if (r.has("rope_scaling") && r.j["rope_scaling"].is_object()) full_default = read_rope(r.j["rope_scaling"], r.where, full_default);
  const Json rp = r.has("rope_parameters") ? r.j["rope_parameters"] : Json();
  c.rope_sliding = read_rope(rp.is_object() && rp.contains("sliding_attention") ? rp["sliding_attention"] : Json(), r.where, sliding_default);
  c.rope_full = read_rope(rp.is_object() && rp.contains("full_attention") ? rp["full_attention"] : Json(), r.where, full_default);

  LayerGeometry g;
  g.types = read_layer_types(r, c.n_layers, 6);
  const int kv_heads = r.get_int("num_key_value_heads");
  for (int i = 0; i < c.n_layers; ++i) {
    g.head_dim.push_back(head_dim);
    g.n_kv_heads.push_back(kv_heads);
    g.k_eq_v.push_back(false);
    g.ffn_dim.push_back(c.intermediate_size);
  }
  resolve_layers(c, g, r.where);
  return c;
}

}  // namespace

std::vector<int> read_id_list(const Json& v) {
  std::vector<int> out;
  if (v.is_number_integer()) out.push_back(v.get<int>());
  if (v.is_array())
    for (const Json& x : v)
      if (x.is_number_integer()) out.push_back(x.get<int>());
  return out;
}

void resolve_layers(ModelConfig& c, const LayerGeometry& g, const std::string& where) {
  const int n = c.n_layers;
  if (n <= 0) throw Error(where + ": num_hidden_layers must be positive");
  if (c.n_kv_shared_layers < 0 || c.n_kv_shared_layers >= n)
    throw Error(where + ": num_kv_shared_layers (" + std::to_string(c.n_kv_shared_layers) + ") must be below num_hidden_layers");
  const int first_shared = n - c.n_kv_shared_layers;
  c.layers.assign(size_t(n), LayerPlan{});
  for (int i = 0; i < n; ++i) {
    LayerPlan& p = c.layers[size_t(i)];
    p.type = g.types[size_t(i)];
    p.head_dim = g.head_dim[size_t(i)];
    p.n_kv_heads = g.n_kv_heads[size_t(i)];
    p.k_eq_v = g.k_eq_v[size_t(i)];
    p.ffn_dim = g.ffn_dim[size_t(i)];
    p.moe = c.n_experts > 0;
    p.kv_source = i;
    if (p.head_dim <= 0 || p.n_kv_heads <= 0 || c.n_heads <= 0 || c.n_heads % p.n_kv_heads != 0)
      throw Error(where + ": layer " + std::to_string(i) + " has head_dim " + std::to_string(p.head_dim) + " and " +
                  std::to_string(p.n_kv_heads) + " KV heads for " + std::to_string(c.n_heads) +
                  " attention heads (must be positive and divide evenly)");
    if (i >= first_shared) {
      int src = -1;
      for (int j = first_shared - 1; j >= 0; --j)
        if (g.types[size_t(j)] == p.type) { src = j; break; }
      if (src < 0) throw Error(where + ": KV-shared layer " + std::to_string(i) + " has no earlier non-shared layer of its type");
      p.kv_source = src;
      const LayerPlan& s = c.layers[size_t(src)];
      if (s.head_dim != p.head_dim || s.n_kv_heads != p.n_kv_heads)
        throw Error(where + ": KV-shared layer " + std::to_string(i) + " and its source layer " + std::to_string(src) + " differ in geometry");
    }
  }
}

ModelConfig config_from_hf_json(const Json& root, const std::string& where) {
  if (!root.is_object()) throw Error(where + ": config.json is not a JSON object");
  std::string mt = root.contains("model_type") && root["model_type"].is_string() ? root["model_type"].get<std::string>() : "";
  const Json* text = &root;
  std::string text_where = where;
  if (mt == "gemma4" || mt == "gemma3") {
    if (!root.contains("text_config") || !root["text_config"].is_object())
      throw Error(where + ": a '" + mt + "' config needs a text_config object");
    text = &root["text_config"];
    text_where = where + " (text_config)";
  }
  ModelConfig c;
  Reader r{*text, text_where};
  if (mt == "gemma4" || mt == "gemma4_text") {
    c = read_gemma4(r);
  } else if (mt == "gemma3" || mt == "gemma3_text") {
    c = read_gemma3(r);
  } else {
    throw Error(where + ": unsupported model_type '" + mt +
                "' (supported: gemma4, gemma4_text, gemma3, gemma3_text)");
  }
  c.model_type = mt;
  Reader top{root, where};
  c.bos_id = r.get_int("bos_token_id", top.get_int("bos_token_id", 2));
  c.pad_id = r.get_int("pad_token_id", top.get_int("pad_token_id", 0));
  std::vector<int> eos = read_id_list(root.contains("eos_token_id") ? root["eos_token_id"] : text->value("eos_token_id", Json()));
  if (eos.empty()) eos.push_back(1);
  c.eos_id = eos.front();
  c.eog_ids = eos;
  return c;
}

}  // namespace g4

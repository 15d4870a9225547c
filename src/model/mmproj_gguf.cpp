#include "model/mmproj_gguf.h"

#include "model/audio_tower.h"

#include <cstring>
#include <map>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/multimodal.h"
#include "model/vision_tower.h"

namespace g4 {

namespace {

// Per-layer names: llama.cpp suffix <-> Hugging Face suffix (after "vision_tower.encoder.layers.N."),
// and whether the Hugging Face module is a clippable linear (its weight sits under ".linear").
struct LayerName {
  const char* clip;
  const char* hf;
  bool linear;
};
constexpr LayerName kLayerNames[] = {
    {"attn_q", "self_attn.q_proj", true},       {"attn_k", "self_attn.k_proj", true},
    {"attn_v", "self_attn.v_proj", true},       {"attn_out", "self_attn.o_proj", true},
    {"ffn_gate", "mlp.gate_proj", true},        {"ffn_up", "mlp.up_proj", true},
    {"ffn_down", "mlp.down_proj", true},        {"attn_q_norm", "self_attn.q_norm", false},
    {"attn_k_norm", "self_attn.k_norm", false}, {"ln1", "input_layernorm", false},
    {"ln2", "pre_feedforward_layernorm", false}, {"attn_post_norm", "post_attention_layernorm", false},
    {"ffn_post_norm", "post_feedforward_layernorm", false},
};
constexpr const char* kClampSuffixes[] = {"input_min", "input_max", "output_min", "output_max"};

constexpr const char* kHfLayers = "vision_tower.encoder.layers.";

bool starts_with(const std::string& s, const char* p) { return s.compare(0, std::strlen(p), p) == 0; }

// Splits "<prefix><N>.<rest>" into N and rest.
bool split_layer(const std::string& s, const char* prefix, int* layer, std::string* rest) {
  if (!starts_with(s, prefix)) return false;
  size_t at = std::strlen(prefix), dot = s.find('.', at);
  if (dot == std::string::npos || dot == at) return false;
  for (size_t i = at; i < dot; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  *layer = std::stoi(s.substr(at, dot - at));
  *rest = s.substr(dot + 1);
  return true;
}

}  // namespace

std::string hf_name_for_clip_vision(const std::string& g) {
  if (g == "v.patch_embd.weight") return "vision_tower.patch_embedder.input_proj.weight";
  if (g == "v.position_embd.weight") return "vision_tower.patch_embedder.position_embedding_table";
  if (g == "v.std_bias") return "vision_tower.std_bias";
  if (g == "v.std_scale") return "vision_tower.std_scale";
  if (g == "mm.input_projection.weight") return "embed_vision.embedding_projection.weight";
  int layer = 0;
  std::string rest;
  if (!split_layer(g, "v.blk.", &layer, &rest)) return "";
  const std::string pre = kHfLayers + std::to_string(layer) + ".";
  for (const LayerName& n : kLayerNames) {
    const std::string base = std::string(n.clip) + ".";
    if (rest.compare(0, base.size(), base) != 0) continue;
    const std::string suffix = rest.substr(base.size());
    if (suffix == "weight") return pre + n.hf + (n.linear ? ".linear.weight" : ".weight");
    if (n.linear)
      for (const char* c : kClampSuffixes)
        if (suffix == c) return pre + n.hf + "." + c;
  }
  return "";
}

std::string clip_name_for_hf_vision(const std::string& h) {
  if (h == "vision_tower.patch_embedder.input_proj.weight") return "v.patch_embd.weight";
  if (h == "vision_tower.patch_embedder.position_embedding_table") return "v.position_embd.weight";
  if (h == "vision_tower.std_bias") return "v.std_bias";
  if (h == "vision_tower.std_scale") return "v.std_scale";
  if (h == "embed_vision.embedding_projection.weight") return "mm.input_projection.weight";
  int layer = 0;
  std::string rest;
  if (!split_layer(h, kHfLayers, &layer, &rest)) return "";
  const std::string pre = "v.blk." + std::to_string(layer) + ".";
  for (const LayerName& n : kLayerNames) {
    const std::string base = std::string(n.hf) + ".";
    if (rest.compare(0, base.size(), base) != 0) continue;
    const std::string suffix = rest.substr(base.size());
    if (suffix == (n.linear ? "linear.weight" : "weight")) return pre + n.clip + ".weight";
    if (n.linear)
      for (const char* c : kClampSuffixes)
        if (suffix == c) return pre + n.clip + "." + c;
  }
  return "";
}

namespace {

class MmprojWeightSource : public WeightSource {
 public:
  explicit MmprojWeightSource(std::shared_ptr<const GgufFile> f) : file_(std::move(f)) {
    for (const GgufTensor& t : file_->tensors()) {
      std::string hf = hf_name_for_clip_vision(t.name);
      if (hf.empty()) continue;
      SourceTensor s;
      s.name = t.name;
      s.type = WType(t.ggml_type);
      s.shape.assign(t.ne.rbegin(), t.ne.rend());
      s.data = t.data;
      s.nbytes = t.nbytes;
      s.file = file_->path();
      if (t.name == "v.patch_embd.weight") s = patch_kernel(t, s);
      if (s.shape.size() == 1 && s.shape[0] == 1 && hf.find("put_m") != std::string::npos) s.shape.clear();  // clamp scalars
      entries_.emplace(hf, Entry{&t, std::move(s)});
    }
  }

  const SourceTensor* find(const std::string& name) const override {
    auto it = entries_.find(name);
    if (it == entries_.end()) return nullptr;
    file_->require_supported(*it->second.gguf);
    return &it->second.st;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }
  std::string describe() const override { return "'" + file_->path() + "'"; }

 private:
  struct Entry {
    const GgufTensor* gguf;
    SourceTensor st;
  };

  // The conv kernel [hidden, 3, p, p] back to input_proj [hidden, p*p*3] (row, column, channel), f32.
  SourceTensor patch_kernel(const GgufTensor& t, SourceTensor s) {
    if (t.ne.size() != 4 || t.ne[0] != t.ne[1] || t.ne[2] != 3)
      throw Error("'" + file_->path() + "': v.patch_embd.weight has shape " + t.shape_str() + ", expected [p, p, 3, hidden]");
    file_->require_supported(t);
    const int64_t p = t.ne[0], H = t.ne[3], n = 3 * p * p;
    Weight w;
    w.data = t.data;
    w.type = WType(t.ggml_type);
    w.rows = H;
    w.cols = n;
    if (w.bytes() != t.nbytes) throw Error("'" + file_->path() + "': v.patch_embd.weight has an inconsistent size");
    patch_.resize(size_t(H * n));
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t o = 0; o < H; ++o) {
      dequantize_row(w, o, row.data());
      float* dst = patch_.data() + o * n;
      for (int64_t ch = 0; ch < 3; ++ch)
        for (int64_t r = 0; r < p; ++r)
          for (int64_t c = 0; c < p; ++c) dst[(r * p + c) * 3 + ch] = row[size_t((ch * p + r) * p + c)];
    }
    s.type = WType::F32;
    s.shape = {H, n};
    s.data = reinterpret_cast<const uint8_t*>(patch_.data());
    s.nbytes = patch_.size() * sizeof(float);
    return s;
  }

  std::shared_ptr<const GgufFile> file_;
  std::map<std::string, Entry> entries_;
  std::vector<float> patch_;
};

uint32_t ggml_type_of(WType t) { return uint32_t(t); }

// Raw f32 bytes of a source tensor (any float type).
std::vector<uint8_t> as_f32_bytes(const SourceTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  Weight w;
  w.data = t.data;
  w.type = t.type;
  w.rows = 1;
  w.cols = n;
  std::vector<uint8_t> out(size_t(n) * sizeof(float));
  dequantize_row(w, 0, reinterpret_cast<float*>(out.data()));
  return out;
}

}  // namespace

std::unique_ptr<WeightSource> open_mmproj_weights(std::shared_ptr<const GgufFile> file) {
  return std::make_unique<MmprojWeightSource>(std::move(file));
}

bool has_media_towers(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  if (!file_exists(cfg_path)) return false;
  const Json cfg = parse_json(read_text_file(cfg_path), cfg_path);
  return cfg.is_object() && ((cfg.contains("vision_config") && cfg["vision_config"].is_object()) ||
                             (cfg.contains("audio_config") && cfg["audio_config"].is_object()));
}

MmprojReport write_mmproj_gguf(const std::string& dir, const std::string& out) {
  MmprojReport rep;
  const std::string cfg_path = dir + "/config.json";
  if (!file_exists(cfg_path)) throw Error("no config.json in " + dir + ": expected a Hugging Face model folder");
  const Json cfg = parse_json(read_text_file(cfg_path), cfg_path);
  const bool has_vision = cfg.is_object() && cfg.contains("vision_config") && cfg["vision_config"].is_object();
  const bool has_audio = cfg.is_object() && cfg.contains("audio_config") && cfg["audio_config"].is_object();
  if (!has_vision) {
    rep.notes.push_back(dir + " has no vision tower (no vision_config in config.json): no projector written");
    return rep;
  }
  const Json& text = cfg.contains("text_config") && cfg["text_config"].is_object() ? cfg["text_config"] : cfg;
  if (!text.contains("hidden_size") || !text["hidden_size"].is_number_integer())
    throw Error(cfg_path + ": text_config.hidden_size is missing");
  const int text_hidden = text["hidden_size"].get<int>();
  const VisionConfig vc = vision_config_from_hf(cfg["vision_config"], text_hidden, cfg_path + " (vision_config)");
  std::shared_ptr<WeightSource> src = open_hf_weights_under(dir, "model.");
  VisionTower check(vc, *src);  // every tensor present with its shape before anything is written
  (void)check;

  GgufWriter w;
  w.set_string("general.architecture", "clip");
  w.set_string("general.type", "mmproj");
  w.set_bool("clip.has_vision_encoder", true);
  if (has_audio) {
    add_audio_tower_to_gguf(w, audio_config_from_hf_json(cfg, cfg_path), *src);  // gemma4a, llama.cpp's names
  } else {
    w.set_bool("clip.has_audio_encoder", false);
  }
  w.set_string("clip.vision.projector_type", "gemma4v");
  w.set_u32("clip.vision.projection_dim", uint32_t(text_hidden));
  w.set_u32("clip.vision.image_size", 224);  // unused by gemma4v; llama.cpp's converter writes 224
  w.set_u32("clip.vision.patch_size", uint32_t(vc.patch_size));
  w.set_u32("clip.vision.embedding_length", uint32_t(vc.hidden));
  w.set_u32("clip.vision.feed_forward_length", uint32_t(vc.intermediate));
  w.set_u32("clip.vision.block_count", uint32_t(vc.n_layers));
  w.set_u32("clip.vision.attention.head_count", uint32_t(vc.n_heads));
  if (vc.n_kv_heads != vc.n_heads) w.set_u32("clip.vision.attention.head_count_kv", uint32_t(vc.n_kv_heads));
  if (vc.head_dim * vc.n_heads != vc.hidden) w.set_u32("clip.vision.attention.head_dim", uint32_t(vc.head_dim));
  if (vc.pooling_kernel != 3) w.set_u32("clip.vision.projector.scale_factor", uint32_t(vc.pooling_kernel));
  w.set_f32("clip.vision.attention.layer_norm_epsilon", vc.eps);
  // Gemma 4 normalises in the model (2(p - 0.5)); the processor's mean/std are the identity.
  w.set("clip.vision.image_mean", GgufValue::float_array(GgufType::F32, {0.0, 0.0, 0.0}));
  w.set("clip.vision.image_std", GgufValue::float_array(GgufType::F32, {1.0, 1.0, 1.0}));

  // The media token ids, for models whose vocabulary does not spell them (llama.cpp looks them up by
  // their strings in the text model's vocabulary; keys of our own, which llama.cpp ignores).
  const bool bidirectional = text.contains("use_bidirectional_attention") && text["use_bidirectional_attention"].is_string() &&
                             text["use_bidirectional_attention"].get<std::string>() == "vision";
  w.set_bool("gemma4.mm.bidirectional_vision", bidirectional);  // llama.cpp decides by the text width instead
  const MediaTokens tokens = media_tokens_from_hf(cfg);
  for (const auto& [key, id] : {std::pair{"image", tokens.image}, {"image_begin", tokens.image_begin}, {"image_end", tokens.image_end},
                                {"audio", tokens.audio}, {"audio_begin", tokens.audio_begin}, {"audio_end", tokens.audio_end}})
    if (id >= 0) w.set_u32(std::string("gemma4.mm.") + key + "_token_id", uint32_t(id));

  bool any_bf16 = false;
  for (const std::string& hf : src->names()) {
    const std::string g = clip_name_for_hf_vision(hf);
    if (g.empty()) continue;
    const SourceTensor& t = *src->find(hf);
    std::vector<int64_t> ne(t.shape.rbegin(), t.shape.rend());
    if (g == "v.patch_embd.weight") {
      // input_proj [hidden, p*p*3] (row, column, channel) -> conv kernel [hidden, 3, p, p], F32.
      const int64_t p = vc.patch_size, H = vc.hidden, n = 3 * p * p;
      std::vector<uint8_t> f = as_f32_bytes(t), k(f.size());
      const float* s = reinterpret_cast<const float*>(f.data());
      float* d = reinterpret_cast<float*>(k.data());
      for (int64_t o = 0; o < H; ++o)
        for (int64_t ch = 0; ch < 3; ++ch)
          for (int64_t r = 0; r < p; ++r)
            for (int64_t c = 0; c < p; ++c) d[o * n + (ch * p + r) * p + c] = s[o * n + (r * p + c) * 3 + ch];
      w.add_tensor(g, ggml_type_of(WType::F32), {p, p, 3, H}, std::move(k));
    } else if (t.shape.size() <= 1 || g == "v.position_embd.weight") {
      if (ne.empty()) ne = {1};  // scalars become [1], as llama.cpp's converter writes them
      w.add_tensor(g, ggml_type_of(WType::F32), ne, as_f32_bytes(t));
    } else {
      any_bf16 = any_bf16 || t.type == WType::BF16;
      w.add_tensor(g, ggml_type_of(t.type), ne, t.data, t.nbytes);
    }
    ++rep.n_tensors;
    rep.bytes += t.nbytes;
  }
  w.set_u32("general.file_type", any_bf16 ? 32u : 1u);  // llama_ftype: MOSTLY_BF16 / MOSTLY_F16
  w.write(out);
  rep.written = true;
  return rep;
}

}  // namespace g4

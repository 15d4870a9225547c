#include "model/mmproj_gguf.h"

#include <cstring>
#include <map>

#include "core/error.h"
#include "formats/gguf.h"

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

}  // namespace

std::unique_ptr<WeightSource> open_mmproj_weights(std::shared_ptr<const GgufFile> file) {
  return std::make_unique<MmprojWeightSource>(std::move(file));
}

}  // namespace g4

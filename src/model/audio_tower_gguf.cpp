// The audio tower in llama.cpp's projector GGUF ("mmproj", architecture "clip", audio projector type
// "gemma4a"), as llama.cpp's converter writes it (conversion/gemma.py Gemma4VisionAudioModel with gguf-py's
// tensor map; tools/mtmd/clip.cpp and models/gemma4a.cpp read it):
//   - names: "model.audio_tower." -> "conformer.", ".linear." dropped, then the MMPROJ tensor map
//     (the table below); embed_audio's projection becomes "mm.a.input_projection";
//   - 0-d clipping bounds become [1];
//   - per_dim_scale is stored after softplus, as "a.blk.N.per_dim_scale.weight";
//   - the depthwise kernel [H, 1, K] is stored as [H, K];
//   - convolution kernels (and, by the converter's name test, the whole subsampling block) are F32.
// Metadata: clip.has_audio_encoder, clip.audio.{projector_type, embedding_length, feed_forward_length,
// block_count, attention.head_count, projection_dim, num_mel_bins, attention.layer_norm_epsilon}. The
// attention geometry (chunk 12, left context 13, cap 50, residual weight 0.5) is not stored: llama.cpp
// hard-codes it, so do we (transformers' defaults). llama.cpp also ignores the stored epsilon (its
// converter wrote a wrong one) and uses 1e-6, as we do.
// This file reads that layout and holds the name tables; convert/mmproj_writer.cpp (add_audio_tower_to_gguf)
// writes it.
#include <iterator>
#include <map>

#include "core/error.h"
#include "formats/gguf.h"
#include "core/mapped_file.h"
#include "model/audio_tower.h"

namespace g4 {

namespace {

struct NamePair {
  const char* hf;    // module path inside one layer (or in the tower)
  const char* gguf;  // GGUF base name
  bool clipped;      // a Gemma4ClippableLinear: ".linear.weight" and four bounds
};

// Per-layer modules ("audio_tower.layers.N.<hf>" <-> "a.blk.N.<gguf>"). Note llama.cpp's names for the
// light convolution's two norms are swapped relative to their roles (pre_layer_norm -> conv_norm,
// conv_norm -> norm_conv): that is what its tensor map produces and what clip.cpp reads.
constexpr NamePair kLayerNames[] = {
    {"feed_forward1.ffw_layer_1", "ffn_up", true},
    {"feed_forward1.ffw_layer_2", "ffn_down", true},
    {"feed_forward1.pre_layer_norm", "ffn_norm", false},
    {"feed_forward1.post_layer_norm", "ffn_post_norm", false},
    {"feed_forward2.ffw_layer_1", "ffn_up_1", true},
    {"feed_forward2.ffw_layer_2", "ffn_down_1", true},
    {"feed_forward2.pre_layer_norm", "ffn_norm_1", false},
    {"feed_forward2.post_layer_norm", "ffn_post_norm_1", false},
    {"lconv1d.pre_layer_norm", "conv_norm", false},
    {"lconv1d.conv_norm", "norm_conv", false},
    {"lconv1d.depthwise_conv1d", "conv_dw", false},
    {"lconv1d.linear_start", "conv_pw1", true},
    {"lconv1d.linear_end", "conv_pw2", true},
    {"norm_pre_attn", "attn_pre_norm", false},
    {"norm_post_attn", "attn_post_norm", false},
    {"norm_out", "ln2", false},
    {"self_attn.q_proj", "attn_q", true},
    {"self_attn.k_proj", "attn_k", true},
    {"self_attn.v_proj", "attn_v", true},
    {"self_attn.post", "attn_out", true},
    {"self_attn.relative_k_proj", "attn_k_rel", false},
};

// Tower-level modules.
constexpr NamePair kTowerNames[] = {
    {"audio_tower.subsample_conv_projection.layer0.conv", "a.conv1d.0", false},
    {"audio_tower.subsample_conv_projection.layer0.norm", "a.conv1d.0.norm", false},
    {"audio_tower.subsample_conv_projection.layer1.conv", "a.conv1d.1", false},
    {"audio_tower.subsample_conv_projection.layer1.norm", "a.conv1d.1.norm", false},
    {"audio_tower.subsample_conv_projection.input_proj_linear", "a.input_projection", false},
    {"audio_tower.output_proj", "a.pre_encode.out", false},
    {"embed_audio.embedding_projection", "mm.a.input_projection", false},
};

constexpr const char* kBounds[] = {"input_min", "input_max", "output_min", "output_max"};

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Splits "<prefix><digits>.<rest>" into the layer number and the rest; false when it does not match.
bool split_layer(const std::string& name, const std::string& prefix, int* layer, std::string* rest) {
  if (!starts_with(name, prefix)) return false;
  size_t i = prefix.size(), j = i;
  while (j < name.size() && j - i < 6 && name[j] >= '0' && name[j] <= '9') ++j;
  if (j == i || j >= name.size() || name[j] != '.') return false;
  *layer = std::stoi(name.substr(i, j - i));
  *rest = name.substr(j + 1);
  return true;
}

// Maps "<module>.<suffix>" through `table` in either direction.
std::string map_module(const std::string& name, const NamePair* table, size_t n, bool to_gguf) {
  for (size_t k = 0; k < n; ++k) {
    const NamePair& p = table[k];
    const std::string from = to_gguf ? p.hf : p.gguf, to = to_gguf ? p.gguf : p.hf;
    if (!starts_with(name, from + ".")) continue;
    const std::string suffix = name.substr(from.size() + 1);
    if (p.clipped) {
      const std::string hf_weight = "linear.weight";
      if (to_gguf ? suffix == hf_weight : suffix == "weight") return to + "." + (to_gguf ? "weight" : hf_weight);
      for (const char* b : kBounds)
        if (suffix == b) return to + "." + b;
    } else if (suffix == "weight" || suffix == "bias") {
      return to + "." + suffix;
    }
  }
  return "";
}

}  // namespace

std::string audio_gguf_name(const std::string& hf) {
  int layer = 0;
  std::string rest;
  if (split_layer(hf, "audio_tower.layers.", &layer, &rest)) {
    if (rest == "self_attn.per_dim_scale") return "a.blk." + std::to_string(layer) + ".per_dim_scale.weight";
    std::string g = map_module(rest, kLayerNames, std::size(kLayerNames), true);
    return g.empty() ? g : "a.blk." + std::to_string(layer) + "." + g;
  }
  return map_module(hf, kTowerNames, std::size(kTowerNames), true);
}

std::string audio_hf_name(const std::string& gguf) {
  int layer = 0;
  std::string rest;
  if (split_layer(gguf, "a.blk.", &layer, &rest)) {
    if (rest == "per_dim_scale.weight") return "audio_tower.layers." + std::to_string(layer) + ".self_attn.per_dim_scale";
    std::string h = map_module(rest, kLayerNames, std::size(kLayerNames), false);
    return h.empty() ? h : "audio_tower.layers." + std::to_string(layer) + "." + h;
  }
  // The longest GGUF base first: "a.conv1d.0.norm" before "a.conv1d.0".
  std::string best;
  size_t best_len = 0;
  for (const NamePair& p : kTowerNames) {
    std::string h = map_module(gguf, &p, 1, false);
    if (!h.empty() && std::string(p.gguf).size() > best_len) {
      best = h;
      best_len = std::string(p.gguf).size();
    }
  }
  return best;
}

std::vector<std::string> audio_tensor_names(const AudioConfig& c) {
  std::vector<std::string> names;
  const std::string sp = "audio_tower.subsample_conv_projection.";
  for (const char* n : {"layer0.conv.weight", "layer0.norm.weight", "layer1.conv.weight", "layer1.norm.weight", "input_proj_linear.weight"})
    names.push_back(sp + n);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "audio_tower.layers." + std::to_string(i) + ".";
    for (const NamePair& m : kLayerNames) {
      if (m.clipped) {
        names.push_back(p + m.hf + ".linear.weight");
        if (c.clipped_linears)
          for (const char* b : kBounds) names.push_back(p + m.hf + "." + b);
      } else {
        names.push_back(p + m.hf + ".weight");
      }
    }
    names.push_back(p + "self_attn.per_dim_scale");
  }
  for (const char* n : {"audio_tower.output_proj.weight", "audio_tower.output_proj.bias", "embed_audio.embedding_projection.weight"})
    names.push_back(n);
  return names;
}

namespace {

// An mmproj GGUF's audio tensors under their Hugging Face names and shapes.
class GgufAudioSource : public WeightSource {
 public:
  explicit GgufAudioSource(std::shared_ptr<const GgufFile> f) : file_(std::move(f)) {
    for (const GgufTensor& t : file_->tensors()) {
      const std::string hf = audio_hf_name(t.name);
      if (hf.empty()) continue;
      SourceTensor s;
      s.name = t.name;
      s.shape.assign(t.ne.rbegin(), t.ne.rend());
      if (hf.find("depthwise_conv1d") != std::string::npos && s.shape.size() == 2) s.shape = {s.shape[0], 1, s.shape[1]};
      const bool bound = hf.find("_min") != std::string::npos || hf.find("_max") != std::string::npos;
      if (bound && s.shape == std::vector<int64_t>{1}) s.shape.clear();  // 0-d in transformers
      s.data = t.data;
      s.nbytes = t.nbytes;
      s.file = file_->path();
      if (!t.supported) {
        unsupported_.emplace(hf, &t);
        continue;
      }
      s.type = WType(t.ggml_type);
      tensors_.emplace(hf, std::move(s));
    }
  }

  const SourceTensor* find(const std::string& name) const override {
    auto u = unsupported_.find(name);
    if (u != unsupported_.end()) file_->require_supported(*u->second);  // throws naming the type
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::string describe() const override { return "'" + file_->path() + "'"; }

 private:
  std::shared_ptr<const GgufFile> file_;
  std::map<std::string, SourceTensor> tensors_;
  std::map<std::string, const GgufTensor*> unsupported_;
};

int64_t dim_of(const WeightSource& s, const std::string& hf, size_t axis, const std::string& path) {
  const SourceTensor* t = s.find(hf);
  if (!t || t->shape.size() <= axis)
    throw Error("'" + path + "' lacks the audio tensor '" + audio_gguf_name(hf) + "' (or it has too few dimensions)");
  if (t->shape[axis] < 1 || t->shape[axis] > (int64_t(1) << 20))
    throw Error("'" + path + "': audio tensor '" + t->name + "' has an implausible dimension " + std::to_string(t->shape[axis]));
  return t->shape[axis];
}

}  // namespace

std::unique_ptr<WeightSource> open_mmproj_audio_weights(std::shared_ptr<const GgufFile> file) {
  return std::make_unique<GgufAudioSource>(std::move(file));
}

AudioConfig audio_config_from_mmproj(const GgufFile& file, const WeightSource& source) {
  const std::string& path = file.path();
  const std::string arch = file.get_string("general.architecture", "");
  if (arch != "clip")
    throw Error("'" + path + "' is not a llama.cpp projector (mmproj) file: its architecture is '" + arch + "', expected 'clip'");
  if (!file.get_bool("clip.has_audio_encoder", false))
    throw Error("'" + path + "' has no audio encoder (clip.has_audio_encoder is not set): this model takes no audio");
  const std::string type = file.get_string("clip.audio.projector_type", file.get_string("clip.projector_type", ""));
  if (type != "gemma4a")
    throw Error("'" + path + "' holds a '" + type + "' audio projector; only Gemma 4's ('gemma4a') is supported");
  AudioConfig c;  // transformers' defaults for what the file does not record
  c.hidden_size = int(file.get_u32("clip.audio.embedding_length"));
  c.n_layers = int(file.get_u32("clip.audio.block_count"));
  c.n_heads = int(file.get_u32("clip.audio.attention.head_count"));
  const std::string sp = "audio_tower.subsample_conv_projection.";
  c.sub_channels0 = int(dim_of(source, sp + "layer0.conv.weight", 0, path));
  c.sub_channels1 = int(dim_of(source, sp + "layer1.conv.weight", 0, path));
  c.conv_kernel = int(dim_of(source, "audio_tower.layers.0.lconv1d.depthwise_conv1d.weight", 2, path));
  c.output_dims = int(dim_of(source, "audio_tower.output_proj.weight", 0, path));
  c.text_hidden_size = int(dim_of(source, "embed_audio.embedding_projection.weight", 0, path));
  c.clipped_linears = source.find("audio_tower.layers.0.self_attn.q_proj.input_min") != nullptr;
  // Sizes come from an untrusted file: bound them before anything is allocated by them.
  auto in_range = [](int v, int hi) { return v >= 1 && v <= hi; };
  if (!in_range(c.hidden_size, 1 << 16) || !in_range(c.n_heads, 1 << 10) || c.hidden_size % c.n_heads != 0 ||
      !in_range(c.n_layers, 1024) || !in_range(c.sub_channels0, 1 << 12) || !in_range(c.sub_channels1, 1 << 12) ||
      !in_range(c.conv_kernel, 1 << 10) || !in_range(c.output_dims, 1 << 16) || !in_range(c.text_hidden_size, 1 << 16))
    throw Error("'" + path + "': inconsistent audio tower geometry (embedding_length " + std::to_string(c.hidden_size) +
                ", head_count " + std::to_string(c.n_heads) + ", block_count " + std::to_string(c.n_layers) + ", channels " +
                std::to_string(c.sub_channels0) + "/" + std::to_string(c.sub_channels1) + ", kernel " + std::to_string(c.conv_kernel) + ")");
  return c;
}

std::unique_ptr<AudioTower> AudioTower::load_gguf(const std::string& path) {
  std::shared_ptr<const GgufFile> file = GgufFile::open(path, default_load_mode());
  std::shared_ptr<WeightSource> source = open_mmproj_audio_weights(file);
  AudioConfig c = audio_config_from_mmproj(*file, *source);
  return std::make_unique<AudioTower>(c, std::move(source), /*per_dim_scale_softplus=*/true);
}

}  // namespace g4

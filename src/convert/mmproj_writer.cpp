#include "convert/mmproj_writer.h"

#include <cstring>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/gguf_writer.h"
#include "model/mmproj_gguf.h"
#include "model/multimodal.h"
#include "model/vision_tower.h"

namespace g4 {

namespace {

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

void add_audio_tower_to_gguf(GgufWriter& w, const AudioConfig& c, const WeightSource& source) {
  w.set_bool("clip.has_audio_encoder", true);
  w.set_string("clip.audio.projector_type", "gemma4a");
  w.set_u32("clip.audio.embedding_length", uint32_t(c.hidden_size));
  w.set_u32("clip.audio.feed_forward_length", uint32_t(4 * c.hidden_size));
  w.set_u32("clip.audio.block_count", uint32_t(c.n_layers));
  w.set_u32("clip.audio.attention.head_count", uint32_t(c.n_heads));
  w.set_u32("clip.audio.projection_dim", uint32_t(c.text_hidden_size));
  w.set_u32("clip.audio.num_mel_bins", uint32_t(c.n_mel));
  w.set_f32("clip.audio.attention.layer_norm_epsilon", c.rms_norm_eps);

  // Every tensor the tower binds, in binding order, converted as llama.cpp's converter does.
  for (const std::string& hf : audio_tensor_names(c)) {
    const SourceTensor* t = source.find(hf);
    if (!t) throw Error("missing audio tensor '" + hf + "' in " + source.describe());
    const std::string g = audio_gguf_name(hf);
    std::vector<int64_t> shape = t->shape;
    if (shape.empty()) shape = {1};                                               // scalars -> [1]
    if (hf.find("depthwise_conv1d") != std::string::npos && shape.size() == 3) shape = {shape[0], shape[2]};
    std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    // The converter keeps 1-D tensors, convolution kernels and the subsampling block in F32, and
    // stores softplus(per_dim_scale).
    const bool per_dim = hf.find("per_dim_scale") != std::string::npos;
    const bool force_f32 = shape.size() <= 1 || per_dim || hf.find(".conv") != std::string::npos ||
                           (hf.find("_conv") != std::string::npos && hf.find(".weight") != std::string::npos);
    if (!force_f32 && (t->type == WType::F32 || t->type == WType::F16 || t->type == WType::BF16)) {
      w.add_tensor(g, uint32_t(t->type), ne, t->data, t->nbytes);
      continue;
    }
    Weight view;
    view.data = t->data;
    view.type = t->type;
    view.rows = 1;
    view.cols = n;
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row(view, 0, v.data());
    if (per_dim)
      for (float& x : v) x = audio_softplus(x);
    std::vector<uint8_t> bytes(v.size() * 4);
    std::memcpy(bytes.data(), v.data(), bytes.size());
    w.add_tensor(g, uint32_t(WType::F32), ne, std::move(bytes));
  }
}

}  // namespace g4

// The audio tower's configuration (config.json's audio_config) and the binding of its tensors.
#include <cmath>

#include "core/error.h"
#include "core/mapped_file.h"
#include "model/audio_tower.h"

namespace g4 {

namespace {

int read_int(const Json& j, const char* key, int fallback, const std::string& where, int min_value = 1) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number_integer()) throw Error(where + ": audio_config." + key + " must be an integer");
  long long v = j[key].get<long long>();
  if (v < min_value || v > (1 << 20)) throw Error(where + ": audio_config." + key + " = " + std::to_string(v) + " is out of range");
  return int(v);
}

float read_float(const Json& j, const char* key, float fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number()) throw Error(where + ": audio_config." + key + " must be a number");
  return float(j[key].get<double>());
}

ClippedLinear bind_clipped(const TowerBinder& b, const std::string& name, int64_t rows, int64_t cols, bool clip) {
  ClippedLinear l;
  l.w = b.matrix(name + ".linear.weight", rows, cols);
  if (clip) {
    l.in_min = b.scalar(name + ".input_min");
    l.in_max = b.scalar(name + ".input_max");
    l.out_min = b.scalar(name + ".output_min");
    l.out_max = b.scalar(name + ".output_max");
  }
  return l;
}

AudioFeedForward bind_ff(const TowerBinder& b, const std::string& p, int64_t H, bool clip) {
  AudioFeedForward f;
  f.pre_norm = b.vector(p + ".pre_layer_norm.weight", H);
  f.post_norm = b.vector(p + ".post_layer_norm.weight", H);
  f.up = bind_clipped(b, p + ".ffw_layer_1", 4 * H, H, clip);
  f.down = bind_clipped(b, p + ".ffw_layer_2", H, 4 * H, clip);
  return f;
}

}  // namespace

bool hf_config_has_audio(const Json& config) {
  return config.is_object() && config.contains("audio_config") && config["audio_config"].is_object();
}

AudioConfig audio_config_from_hf_json(const Json& root, const std::string& where) {
  std::string name = root.is_object() && root.contains("model_type") && root["model_type"].is_string()
                         ? root["model_type"].get<std::string>()
                         : std::string("this model");
  if (!hf_config_has_audio(root))
    throw Error(where + ": the model (" + name + ") has no audio tower (no audio_config); only Gemma 4 E2B and E4B take audio");
  const Json& a = root["audio_config"];
  AudioConfig c;
  c.hidden_size = read_int(a, "hidden_size", c.hidden_size, where);
  c.n_layers = read_int(a, "num_hidden_layers", c.n_layers, where);
  c.n_heads = read_int(a, "num_attention_heads", c.n_heads, where);
  c.conv_kernel = read_int(a, "conv_kernel_size", c.conv_kernel, where);
  c.chunk_size = read_int(a, "attention_chunk_size", c.chunk_size, where);
  c.context_left = read_int(a, "attention_context_left", c.context_left, where);
  c.context_right = read_int(a, "attention_context_right", c.context_right, where, 0);
  c.logit_cap = read_float(a, "attention_logit_cap", c.logit_cap, where);
  c.invalid_logit = read_float(a, "attention_invalid_logits_value", c.invalid_logit, where);
  c.residual_weight = read_float(a, "residual_weight", c.residual_weight, where);
  c.gradient_clipping = read_float(a, "gradient_clipping", c.gradient_clipping, where);
  c.rms_norm_eps = read_float(a, "rms_norm_eps", c.rms_norm_eps, where);
  c.output_dims = read_int(a, "output_proj_dims", c.output_dims, where);
  if (a.contains("use_clipped_linears") && !a["use_clipped_linears"].is_null()) {
    if (!a["use_clipped_linears"].is_boolean()) throw Error(where + ": audio_config.use_clipped_linears must be true or false");
    c.clipped_linears = a["use_clipped_linears"].get<bool>();
  }
  if (a.contains("subsampling_conv_channels") && !a["subsampling_conv_channels"].is_null()) {
    const Json& ch = a["subsampling_conv_channels"];
    if (!ch.is_array() || ch.size() != 2 || !ch[0].is_number_integer() || !ch[1].is_number_integer() ||
        ch[0].get<long long>() < 1 || ch[1].get<long long>() < 1 || ch[0].get<long long>() > 4096 || ch[1].get<long long>() > 4096)
      throw Error(where + ": audio_config.subsampling_conv_channels must be two positive integers");
    c.sub_channels0 = int(ch[0].get<long long>());
    c.sub_channels1 = int(ch[1].get<long long>());
  }
  if (a.contains("hidden_act") && !a["hidden_act"].is_null() &&
      (!a["hidden_act"].is_string() || a["hidden_act"].get<std::string>() != "silu"))
    throw Error(where + ": audio_config.hidden_act must be \"silu\" (the only activation Gemma 4's audio tower uses)");
  if (c.hidden_size % c.n_heads != 0)
    throw Error(where + ": audio_config.hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                std::to_string(c.n_heads));
  if (!(c.logit_cap > 0)) throw Error(where + ": audio_config.attention_logit_cap must be positive");
  if (!root.contains("text_config") || !root["text_config"].is_object())
    throw Error(where + ": a model with an audio tower needs a text_config (for embed_audio's output width)");
  c.text_hidden_size = read_int(root["text_config"], "hidden_size", 0, where + " (text_config)");
  if (c.text_hidden_size == 0) throw Error(where + ": text_config.hidden_size is missing");
  return c;
}

AudioWeights bind_audio_weights(AudioConfig& c, const WeightSource& source, bool per_dim_scale_softplus) {
  TowerBinder b(source, "audio tower");  // the towers' one binder (model/multimodal.h)
  const int64_t H = c.hidden_size, C0 = c.sub_channels0, C1 = c.sub_channels1, K = c.conv_kernel;
  const std::string sp = "audio_tower.subsample_conv_projection.";
  AudioWeights w;
  w.conv0 = b.values(sp + "layer0.conv.weight", {C0, 1, 3, 3});
  w.norm0 = b.vector(sp + "layer0.norm.weight", C0);
  std::vector<float> conv1 = b.values(sp + "layer1.conv.weight", {C1, C0, 3, 3});
  // Repacked as [C1][kt][kf][c0] so that one im2col row (3x3 neighbourhood, channels innermost) is a dot product.
  w.conv1_packed.resize(size_t(C1 * 9 * C0));
  for (int64_t o = 0; o < C1; ++o)
    for (int64_t ci = 0; ci < C0; ++ci)
      for (int64_t k = 0; k < 9; ++k) w.conv1_packed[size_t((o * 9 + k) * C0 + ci)] = conv1[size_t((o * C0 + ci) * 9 + k)];
  w.conv1.data = reinterpret_cast<const uint8_t*>(w.conv1_packed.data());
  w.conv1.type = WType::F32;
  w.conv1.rows = C1;
  w.conv1.cols = 9 * C0;
  w.norm1 = b.vector(sp + "layer1.norm.weight", C1);

  // The input projection's width fixes the feature width: C1 channels times the frequency bins left after
  // two stride-2 convolutions.
  // transformers sizes it (channels0 / 4) * channels1, which equals it for the 128-bin extractor.
  const SourceTensor* ip = source.find_shaped(sp + "input_proj_linear.weight", {H, C0 / 4 * C1});
  if (!ip || ip->shape.size() != 2 || ip->shape[0] != H || ip->shape[1] % C1 != 0)
    throw Error("missing or misshapen audio tensor '" + sp + "input_proj_linear.weight' in " + source.describe() + " (expected [" +
                std::to_string(H) + ", a multiple of " + std::to_string(C1) + "])");
  const int64_t F2 = ip->shape[1] / C1;
  c.n_mel = int(4 * F2);  // ceil(ceil(mel/2)/2) == F2; the extractor's 128 bins give 32
  w.input_proj = b.matrix(sp + "input_proj_linear.weight", H, F2 * C1);

  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "audio_tower.layers." + std::to_string(i) + ".";
    AudioLayerWeights l;
    l.ff1 = bind_ff(b, p + "feed_forward1", H, c.clipped_linears);
    l.ff2 = bind_ff(b, p + "feed_forward2", H, c.clipped_linears);
    l.norm_pre_attn = b.vector(p + "norm_pre_attn.weight", H);
    l.norm_post_attn = b.vector(p + "norm_post_attn.weight", H);
    l.norm_out = b.vector(p + "norm_out.weight", H);
    l.q = bind_clipped(b, p + "self_attn.q_proj", H, H, c.clipped_linears);
    l.k = bind_clipped(b, p + "self_attn.k_proj", H, H, c.clipped_linears);
    l.v = bind_clipped(b, p + "self_attn.v_proj", H, H, c.clipped_linears);
    l.post = bind_clipped(b, p + "self_attn.post", H, H, c.clipped_linears);
    l.rel_k = b.matrix(p + "self_attn.relative_k_proj.weight", H, H);
    l.dim_scale = b.vector(p + "self_attn.per_dim_scale", c.head_dim());
    if (!per_dim_scale_softplus)
      for (float& x : l.dim_scale) x = audio_softplus(x);
    l.conv_pre_norm = b.vector(p + "lconv1d.pre_layer_norm.weight", H);
    l.conv_norm = b.vector(p + "lconv1d.conv_norm.weight", H);
    l.conv_start = bind_clipped(b, p + "lconv1d.linear_start", 2 * H, H, c.clipped_linears);
    l.conv_end = bind_clipped(b, p + "lconv1d.linear_end", H, H, c.clipped_linears);
    l.depthwise = b.values(p + "lconv1d.depthwise_conv1d.weight", {H, 1, K});
    w.layers.push_back(std::move(l));
  }
  w.output_proj = b.matrix("audio_tower.output_proj.weight", c.output_dims, H);
  w.output_bias = b.vector("audio_tower.output_proj.bias", c.output_dims);
  w.embed_proj = b.matrix("embed_audio.embedding_projection.weight", c.text_hidden_size, c.output_dims);
  return w;
}

std::unique_ptr<AudioTower> AudioTower::load_hf(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  if (!file_exists(cfg_path)) throw Error("no config.json in " + dir + ": expected a Hugging Face model folder");
  AudioConfig config = audio_config_from_hf_json(parse_json(read_text_file(cfg_path), cfg_path), cfg_path);
  std::shared_ptr<WeightSource> source = open_hf_weights_under(dir, "model.");
  return std::make_unique<AudioTower>(config, std::move(source));
}

}  // namespace g4

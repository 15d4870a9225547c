#include "model/multimodal.h"

#include "model/audio_tower.h"

#include "core/error.h"
#include "formats/gguf.h"
#include "model/mmproj_gguf.h"
#include "model/vision_tower.h"

namespace g4 {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int id_field(const Json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number_integer()) return -1;
  const long long v = j[key].get<long long>();
  return v >= 0 && v < (1ll << 31) ? int(v) : -1;
}

}  // namespace

const SourceTensor& TowerBinder::tensor(const std::string& name, const std::vector<int64_t>& shape) const {
  const SourceTensor* t = source_.find_shaped(name, shape);
  if (!t) throw Error("missing tensor '" + name + "' of the " + tower_ + " in " + source_.describe());
  if (t->shape != shape)
    throw Error("tensor '" + t->name + "' in '" + t->file + "' has shape " + shape_str(t->shape) + ", expected " + shape_str(shape) +
                " from the " + tower_ + " configuration");
  return *t;
}

Weight TowerBinder::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  return as_weight(tensor(name, {rows, cols}), rows, cols);
}

std::vector<float> TowerBinder::values(const std::string& name, const std::vector<int64_t>& shape) const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const Weight w = as_weight(tensor(name, shape), 1, n);
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(w, 0, out.data());
  return out;
}

std::vector<float> TowerBinder::vector(const std::string& name, int64_t n) const { return values(name, {n}); }

float TowerBinder::scalar(const std::string& name) const {
  const SourceTensor* t = source_.find(name);
  if (!t) throw Error("missing tensor '" + name + "' of the " + tower_ + " in " + source_.describe());
  return values(name, t->shape.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{1})[0];
}

MultimodalModel::MultimodalModel() = default;
MultimodalModel::~MultimodalModel() = default;

int64_t MultimodalModel::parameter_count() const {
  return (vision ? vision->parameter_count() : 0) + (audio ? audio->parameter_count() : 0);
}

size_t MultimodalModel::weight_bytes() const {
  return (vision ? vision->weight_bytes() : 0) + (audio ? audio->weight_bytes() : 0);
}

MediaTokens media_tokens_from_hf(const Json& c) {
  MediaTokens t;
  t.image = id_field(c, "image_token_id");
  t.image_begin = id_field(c, "boi_token_id");
  t.image_end = id_field(c, "eoi_token_id");
  t.video = id_field(c, "video_token_id");
  t.audio = id_field(c, "audio_token_id");
  t.audio_begin = id_field(c, "boa_token_id");
  t.audio_end = id_field(c, "eoa_token_index");  // sic: the released configs name it so
  if (t.audio_end < 0) t.audio_end = id_field(c, "eoa_token_id");
  return t;
}

MediaTokens media_tokens_from_gguf_vocab(const GgufFile& f) {
  MediaTokens t;
  if (!f.has("tokenizer.ggml.tokens")) return t;
  const std::vector<std::string_view> tokens = f.get_array_strings("tokenizer.ggml.tokens");
  auto find = [&](std::string_view s) {
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == s) return int(i);
    return -1;
  };
  t.image = find("<|image|>");
  t.image_begin = find("<|image>");
  t.image_end = find("<image|>");
  t.video = find("<|video|>");
  t.audio = find("<|audio|>");
  t.audio_begin = find("<|audio>");
  t.audio_end = find("<audio|>");
  return t;
}

std::unique_ptr<MultimodalModel> load_multimodal_hf(const std::string& dir, const Json& config, int text_hidden) {
  const std::string where = dir + "/config.json";
  const bool has_vision = config.contains("vision_config") && config["vision_config"].is_object();
  const bool has_audio = config.contains("audio_config") && config["audio_config"].is_object();
  if (!has_vision && !has_audio) return nullptr;
  auto mm = std::make_unique<MultimodalModel>();
  mm->where = dir;
  mm->model_name = dir;
  mm->tokens = media_tokens_from_hf(config);
  if (config.contains("text_config") && config["text_config"].is_object()) {
    const Json& t = config["text_config"];
    mm->bidirectional_vision = t.contains("use_bidirectional_attention") && t["use_bidirectional_attention"].is_string() &&
                               t["use_bidirectional_attention"].get<std::string>() == "vision";
  }
  mm->source = open_hf_weights_under(dir, "model.");
  if (has_vision) {
    if (mm->tokens.image < 0) throw Error(where + ": a vision_config needs image_token_id");
    mm->vision = std::make_unique<VisionTower>(vision_config_from_hf(config["vision_config"], text_hidden, where + " (vision_config)"),
                                               *mm->source);
  }
  if (has_audio) {  // E2B/E4B
    if (mm->tokens.audio < 0) throw Error(where + ": an audio_config needs audio_token_id");
    mm->audio = AudioTower::load_hf(dir);
  }
  return mm;
}

std::unique_ptr<MultimodalModel> load_multimodal_gguf(const std::string& path, int text_hidden) {
  return load_multimodal_gguf(std::shared_ptr<const GgufFile>(GgufFile::open(path, LoadMode::Map)), text_hidden);
}

std::unique_ptr<MultimodalModel> load_multimodal_gguf(std::shared_ptr<const GgufFile> f, int text_hidden) {
  const std::string path = f->path();
  const std::string arch = f->get_string("general.architecture", "");
  if (arch != "clip")
    throw Error("'" + path + "' is not a multimodal projector GGUF (general.architecture is '" + arch + "', expected 'clip')");
  auto mm = std::make_unique<MultimodalModel>();
  mm->where = path;
  mm->model_name = path;
  const std::string vproj = f->get_string("clip.vision.projector_type", f->get_string("clip.projector_type", ""));
  const bool has_vision = f->get_bool("clip.has_vision_encoder", false);
  const bool has_audio = f->get_bool("clip.has_audio_encoder", false);
  if (has_vision && vproj != "gemma4v")
    throw Error("'" + path + "': vision projector type '" + vproj + "' is not supported (this engine runs Gemma 4's 'gemma4v')");
  if (!has_vision && !has_audio) throw Error("'" + path + "' has neither a vision nor an audio encoder");
  // llama.cpp decides bidirectional image attention by the text width: every Gemma 4 but E2B (1536)
  // and E4B (2560).
  mm->bidirectional_vision = has_vision && text_hidden != 1536 && text_hidden != 2560;
  // Our converter records the checkpoint's own setting (a key llama.cpp ignores): it wins over the width rule.
  if (f->has("gemma4.mm.bidirectional_vision")) mm->bidirectional_vision = has_vision && f->get_bool("gemma4.mm.bidirectional_vision", false);
  auto id = [&](const char* key) { return f->has(std::string("gemma4.mm.") + key + "_token_id") ? int(f->get_u32(std::string("gemma4.mm.") + key + "_token_id")) : -1; };
  mm->tokens.image = id("image");
  mm->tokens.image_begin = id("image_begin");
  mm->tokens.image_end = id("image_end");
  mm->tokens.audio = id("audio");
  mm->tokens.audio_begin = id("audio_begin");
  mm->tokens.audio_end = id("audio_end");
  mm->source = open_mmproj_weights(f);
  if (has_vision) mm->vision = std::make_unique<VisionTower>(vision_config_from_gguf(*f, text_hidden), *mm->source);
  if (has_audio) mm->audio = AudioTower::load_gguf(path);  // projector type gemma4a
  return mm;
}

}  // namespace g4

#include <map>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "model/weight_source.h"

namespace g4 {

namespace {

bool to_wtype(DType d, WType* out) {
  switch (d) {
    case DType::F32: *out = WType::F32; return true;
    case DType::F16: *out = WType::F16; return true;
    case DType::BF16: *out = WType::BF16; return true;
    default: return false;
  }
}

class HfWeightSource : public WeightSource {
 public:
  explicit HfWeightSource(std::string dir) : dir_(std::move(dir)) {}

  void add_file(const std::string& path, LoadMode mode) {
    auto f = SafetensorsFile::open(path, mode);
    for (const auto& [name, t] : f->tensors()) all_.emplace(name, &t);
    files_.push_back(std::move(f));
  }

  // Picks the text-decoder prefix and builds the stripped-name table.
  void index_text() {
    static const char* prefixes[] = {"model.language_model.", "model.text_model.", "language_model.model.", "model."};
    std::string prefix;
    for (const char* p : prefixes)
      if (all_.count(std::string(p) + "embed_tokens.weight")) { prefix = p; break; }
    if (prefix.empty())
      throw Error("no text-decoder embedding ('model.embed_tokens.weight' or 'model.language_model.embed_tokens.weight') in " + dir_ +
                  ": is this a Gemma checkpoint?");
    index(prefix);
  }

  // Every tensor whose name starts with `prefix`, under its name without it.
  void index(const std::string& prefix) {
    for (const auto& [name, t] : all_) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      std::string key = name.substr(prefix.size());
      SourceTensor s;
      s.name = name;
      s.shape = t->shape;
      s.data = t->data;
      s.nbytes = t->nbytes;
      s.file = t->file;
      if (!to_wtype(t->dtype, &s.type))
        throw Error("tensor '" + name + "' in '" + t->file + "' has dtype " + dtype_name(t->dtype) + "; weights must be F32, F16 or BF16");
      tensors_.emplace(key, std::move(s));
    }
  }

  const SourceTensor* find(const std::string& name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::string describe() const override { return dir_; }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : tensors_) out.push_back(k);
    return out;
  }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> all_;
  std::map<std::string, SourceTensor> tensors_;
};

}  // namespace

namespace {

std::unique_ptr<HfWeightSource> open_hf_files(const std::string& dir, LoadMode mode) {
  auto src = std::make_unique<HfWeightSource>(dir);
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(index)) {
    Json j = parse_json(read_text_file(index), index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index + ": missing 'weight_map' object");
    std::set<std::string> shards;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index + ": weight_map entry '" + it.key() + "' is not a file name");
      std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        throw Error(index + ": shard name '" + shard + "' must be a plain file name in the same folder");
      shards.insert(shard);
    }
    for (const auto& s : shards) {
      if (!file_exists(dir + "/" + s)) throw Error(index + " lists shard '" + s + "', which is missing from " + dir);
      src->add_file(dir + "/" + s, mode);
    }
  } else if (file_exists(single)) {
    src->add_file(single, mode);
  } else {
    throw Error("no model.safetensors or model.safetensors.index.json in " + dir);
  }
  return src;
}

}  // namespace

std::unique_ptr<WeightSource> open_hf_weights(const std::string& dir) {
  auto src = open_hf_files(dir, default_load_mode());
  src->index_text();
  return src;
}

std::unique_ptr<WeightSource> open_hf_weights_under(const std::string& dir, const std::string& prefix) {
  // Mapped in place whatever the process default: the towers are a small part of the files, and a
  // second private copy of a checkpoint the text loader may already have read would double its memory.
  auto src = open_hf_files(dir, LoadMode::Map);
  src->index(prefix);
  return src;
}

}  // namespace g4

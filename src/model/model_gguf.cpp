// Loading llama.cpp GGUF files (architectures gemma4, gemma3): the config from metadata
// (model/gguf_config.cpp), the tensors through a WeightSource that presents llama.cpp's names as the
// Hugging Face names the binder asks for, memory-mapped in place.
#include <map>

#include "core/error.h"
#include "model/gguf_config.h"
#include "model/model.h"

namespace g4 {

namespace {

class GgufWeightSource : public WeightSource {
 public:
  explicit GgufWeightSource(std::shared_ptr<const GgufFile> f) : file_(std::move(f)) {
    for (const GgufTensor& t : file_->tensors()) {
      std::string hf = hf_name_for_gguf(t.name);
      if (hf.empty()) continue;
      Entry e;
      e.gguf = &t;
      e.st.name = t.name;
      e.st.type = WType(t.ggml_type);
      e.st.shape.assign(t.ne.rbegin(), t.ne.rend());
      e.st.data = t.data;
      e.st.nbytes = t.nbytes;
      e.st.file = file_->path();
      tensors_.emplace(hf, std::move(e));
    }
  }

  const SourceTensor* find(const std::string& name) const override {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      // llama.cpp treats layer_output_scale as optional (absent = 1).
      if (name.size() > 12 && name.compare(name.size() - 12, 12, "layer_scalar") == 0 && name.compare(0, 7, "layers.") == 0) {
        auto& st = defaults_[name];
        if (st.name.empty()) {
          st.name = gguf_name_for_hf(name) + " (absent: 1.0)";
          st.type = WType::F32;
          st.shape = {1};
          st.data = reinterpret_cast<const uint8_t*>(&kOne);
          st.nbytes = 4;
          st.file = file_->path();
        }
        return &st;
      }
      return nullptr;
    }
    const Entry& e = it->second;
    if (!e.gguf->supported)
      throw Error("tensor '" + e.gguf->name + "' in '" + file_->path() + "' is stored as " + e.gguf->type_name() +
                  ", which this engine cannot compute with (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K); "
                  "re-quantize it with 'gemma4 quantize --model IN --type q4_k --out OUT.gguf' from an F16/BF16/Q8_0 file");
    return &e.st;
  }

  std::string describe() const override { return "'" + file_->path() + "'"; }

 private:
  struct Entry {
    const GgufTensor* gguf = nullptr;
    SourceTensor st;
  };
  static constexpr float kOne = 1.0f;
  std::shared_ptr<const GgufFile> file_;
  std::map<std::string, Entry> tensors_;
  mutable std::map<std::string, SourceTensor> defaults_;
};

}  // namespace

std::unique_ptr<WeightSource> open_gguf_weights(std::shared_ptr<const GgufFile> file) {
  return std::make_unique<GgufWeightSource>(std::move(file));
}

std::unique_ptr<Model> load_gguf_model(const std::string& path) {
  std::shared_ptr<const GgufFile> file = GgufFile::open(path, default_load_mode());
  ModelConfig config = config_from_gguf(*file);
  std::shared_ptr<WeightSource> source = open_gguf_weights(file);
  return std::make_unique<Model>(std::move(config), std::move(source));
}

}  // namespace g4

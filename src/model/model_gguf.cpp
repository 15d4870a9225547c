#include "core/error.h"
#include "model/model.h"

namespace g4 {

std::unique_ptr<Model> load_gguf_model(const std::string& path) {
  throw Error("'" + path + "': loading models from GGUF files is not available in this build yet; use a Hugging Face folder");
}

}  // namespace g4

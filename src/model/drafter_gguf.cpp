// Drafters in llama.cpp GGUF files (architecture gemma4-assistant).
#include "core/error.h"
#include "model/drafter.h"

namespace g4 {

DrafterConfig read_gguf_drafter_config(const std::string& path) {
  throw Error("'" + path + "': GGUF drafters are not supported yet; use the Hugging Face folder");
}

std::unique_ptr<Drafter> load_gguf_drafter(const std::string& path) { return std::make_unique<Drafter>(read_gguf_drafter_config(path), nullptr, std::vector<int32_t>{}); }

}  // namespace g4

#include "template/gguf_metadata.h"

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "formats/gguf.h"

namespace g4::tpl {

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  if (!f.read(magic, 4)) return false;
  return std::memcmp(magic, "GGUF", 4) == 0;
}

GgufChatInfo read_gguf_chat_info(const std::string& path) {
  const auto file = GgufFile::open(path, LoadMode::Map);
  const GgufFile& f = *file;
  GgufChatInfo info;
  // Every key read through GgufFile's typed getters: a value of the wrong type is an error naming it.
  if (f.has("tokenizer.chat_template")) info.chat_template = f.get_string("tokenizer.chat_template");
  if (!f.has("tokenizer.ggml.tokens")) return info;
  const std::vector<std::string_view> tokens = f.get_array_strings("tokenizer.ggml.tokens");
  static const std::pair<const char*, const char*> names[] = {{"tokenizer.ggml.bos_token_id", "bos_token"},
                                                              {"tokenizer.ggml.eos_token_id", "eos_token"},
                                                              {"tokenizer.ggml.unknown_token_id", "unk_token"},
                                                              {"tokenizer.ggml.padding_token_id", "pad_token"}};
  for (const auto& [key, name] : names) {
    if (!f.has(key)) continue;
    const int64_t id = f.get_i64(key);
    if (id < 0 || uint64_t(id) >= tokens.size())
      throw Error("metadata '" + std::string(key) + "' in '" + path + "' = " + std::to_string(id) +
                  " is not a token id (the vocabulary has " + std::to_string(tokens.size()) + " tokens)");
    info.special_tokens[name] = std::string(tokens[size_t(id)]);
  }
  return info;
}

}  // namespace g4::tpl

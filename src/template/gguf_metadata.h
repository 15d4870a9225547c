#pragma once
// What chat templates need from a GGUF file (tokenizer.chat_template and the special-token strings), read
// through formats/gguf.h, the one GGUF reader.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace g4::tpl {

struct GgufChatInfo {
  std::optional<std::string> chat_template;
  std::map<std::string, std::string> special_tokens;  // bos_token, eos_token, unk_token, pad_token
};

bool is_gguf_file(const std::string& path);

// Throws g4::Error naming the path if the file is not a readable GGUF.
GgufChatInfo read_gguf_chat_info(const std::string& path);

}  // namespace g4::tpl

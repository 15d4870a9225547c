#include "template/chat_template.h"

#include "core/error.h"
#include "core/mapped_file.h"
#include "template/ast.h"
#include "template/gguf_metadata.h"
#include "template/lexer.h"
#include "template/parser.h"

namespace g4 {

struct ChatTemplate::Impl {
  std::string source;
  std::string origin;
  tpl::Body body;
};

ChatTemplate::ChatTemplate(std::string source, std::string origin) {
  auto impl = std::make_shared<Impl>();
  impl->source = std::move(source);
  impl->origin = std::move(origin);
  std::string normalized = tpl::normalize_template_source(impl->source);
  std::vector<tpl::Token> tokens = tpl::tokenize(normalized, impl->origin);
  impl->body = tpl::parse_template(tokens, impl->origin);
  impl_ = std::move(impl);
}

const std::string& ChatTemplate::source() const { return impl_->source; }
const std::string& ChatTemplate::origin() const { return impl_->origin; }

std::string ChatTemplate::render(const Json& context) const {
  if (!context.is_object() && !context.is_null()) throw Error("template context must be a JSON object");
  tpl::Interp interp(limits_, impl_->origin);
  return interp.render(impl_->body, context.is_null() ? tpl::Value::dict() : tpl::Value::from_json(context));
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::optional<std::string> template_from_tokenizer_config(const std::string& path) {
  nlohmann::ordered_json cfg;
  try {
    cfg = nlohmann::ordered_json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
  if (!cfg.is_object() || !cfg.contains("chat_template")) return std::nullopt;
  const auto& ct = cfg["chat_template"];
  if (ct.is_string()) return ct.get<std::string>();
  if (ct.is_array()) {
    std::string names;
    for (const auto& entry : ct) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template")) continue;
      std::string name = entry["name"].is_string() ? entry["name"].get<std::string>() : "";
      if (name == "default" && entry["template"].is_string()) return entry["template"].get<std::string>();
      names += (names.empty() ? "" : ", ") + name;
    }
    throw Error(path + ": chat_template lists no template named \"default\" (has: " + names + ")");
  }
  if (ct.is_null()) return std::nullopt;
  throw Error(path + ": \"chat_template\" must be a string or a list of {name, template}");
}

}  // namespace

std::string load_chat_template(const std::string& model_path) {
  if (is_directory(model_path)) {
    std::string jinja = join_path(model_path, "chat_template.jinja");
    if (file_exists(jinja)) return read_text_file(jinja);
    std::string cfg = join_path(model_path, "tokenizer_config.json");
    if (file_exists(cfg))
      if (auto t = template_from_tokenizer_config(cfg)) return *t;
    std::string proc = join_path(model_path, "chat_template.json");
    if (file_exists(proc))
      if (auto t = template_from_tokenizer_config(proc)) return *t;
    throw Error(model_path +
                ": no chat template found (looked for chat_template.jinja, \"chat_template\" in "
                "tokenizer_config.json, and chat_template.json)");
  }
  if (!file_exists(model_path)) throw Error(model_path + ": no such file or folder");
  if (tpl::is_gguf_file(model_path)) {
    tpl::GgufChatInfo info = tpl::read_gguf_chat_info(model_path);
    if (!info.chat_template) throw Error(model_path + ": the GGUF has no tokenizer.chat_template metadata");
    return *info.chat_template;
  }
  if (ends_with(model_path, ".json")) {
    if (auto t = template_from_tokenizer_config(model_path)) return *t;
    throw Error(model_path + ": no \"chat_template\" in this JSON file");
  }
  if (ends_with(model_path, ".jinja") || ends_with(model_path, ".j2")) return read_text_file(model_path);
  throw Error(model_path + ": not a model folder, a .gguf file or a .jinja template");
}

nlohmann::ordered_json load_special_tokens(const std::string& model_path) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  static const char* const names[] = {"bos_token", "eos_token", "unk_token", "pad_token"};
  // A GGUF's special tokens are typed metadata: a value of the wrong type is the file's error, named.
  if (!is_directory(model_path) && file_exists(model_path) && tpl::is_gguf_file(model_path)) {
    tpl::GgufChatInfo info = tpl::read_gguf_chat_info(model_path);
    for (const char* n : names)
      if (info.special_tokens.count(n)) out[n] = info.special_tokens[n];
    return out;
  }
  try {
    if (is_directory(model_path)) {
      std::string cfg_path = join_path(model_path, "tokenizer_config.json");
      if (!file_exists(cfg_path)) return out;
      auto cfg = nlohmann::ordered_json::parse(read_text_file(cfg_path));
      if (!cfg.is_object()) return out;
      for (const char* n : names) {
        if (!cfg.contains(n)) continue;
        const auto& v = cfg[n];
        if (v.is_string()) out[n] = v;
        else if (v.is_object() && v.contains("content") && v["content"].is_string()) out[n] = v["content"];
      }
    }
  } catch (const std::exception&) {
    // Special tokens are a convenience; a model without readable ones renders without them.
  }
  return out;
}

}  // namespace g4

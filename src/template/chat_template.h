#pragma once
// Chat templates: a sandboxed Jinja2 interpreter that renders Hugging Face chat templates byte-exactly as
// transformers' apply_chat_template does (Python Jinja2 with trim_blocks, lstrip_blocks, loop controls,
// raise_exception, strftime_now and transformers' tojson).
//
//   g4::ChatTemplate tpl(g4::load_chat_template("models/gemma-4-31b-it"));
//   std::string prompt = tpl.render({{"messages", messages}, {"add_generation_prompt", true},
//                                    {"bos_token", "<bos>"}});
//
// g4::Json keeps key order, so tojson and dict iteration see members in the order they were written.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json.h"
#include "template/interpreter.h"

namespace g4 {

using TemplateLimits = tpl::TemplateLimits;

class ChatTemplate {
 public:
  // Parses the template; throws g4::Error "<origin>:<line>:<column>: <message>" on a syntax error.
  explicit ChatTemplate(std::string source, std::string origin = "template");

  // Renders with the context's keys as template variables. Throws g4::Error on runtime errors
  // ("<origin>:<line>:<column>: <message>"), on exceeded sandbox limits, and for raise_exception(msg)
  // with exactly msg as the message.
  std::string render(const Json& context) const;

  void set_limits(const TemplateLimits& limits) { limits_ = limits; }
  const TemplateLimits& limits() const { return limits_; }
  const std::string& source() const;
  const std::string& origin() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  TemplateLimits limits_;
};

// Finds the chat template of a model: in a folder, chat_template.jinja, else tokenizer_config.json's
// "chat_template" (a string, or a list of {name, template} where "default" is taken), else
// chat_template.json; in a .gguf file, the metadata string tokenizer.chat_template. A .jinja file is
// read as is. Throws g4::Error saying where it looked when there is none.
std::string load_chat_template(const std::string& model_path);

// The special-token strings a model defines (bos_token, eos_token, unk_token, pad_token), as transformers
// passes them to the template: from tokenizer_config.json in a folder, or from the GGUF token list.
// Missing ones are left out. Never throws for a model without them.
nlohmann::ordered_json load_special_tokens(const std::string& model_path);

}  // namespace g4

#pragma once
// --model as every command takes it: a model folder, a GGUF file (recognised by its magic, whatever its
// name), or a Hugging Face repo id "org/name[:QUANT]" found in the local cache (hub/model_locator.h).
// Commands that run a chat (run, chat, serve) also offer to pull a repo that is not cached yet.
#include <memory>
#include <string>

#include "cli/args.h"
#include "runtime/chat.h"

namespace g4::cli {

enum class ModelUse {
  Inspect,  // info, logits, tokenize, ...: a missing repo is an error suggesting `gemma4 pull`
  Chat,     // run, chat, serve: --pull, an offer on a terminal, --mmproj and --chat-template-file
};

// Declares --model (required) and, for ModelUse::Chat, --pull, --mmproj and --chat-template-file. After
// parsing, args.get("model") is the path to load and args.get("model-name") the repo id it came from
// (empty for a path).
void add_model_option(Args& args, ModelUse use);

// Tokenizer and chat template of a model, with the template of --chat-template-file when one was given.
std::unique_ptr<ChatFormat> load_chat_format(const std::string& model_path);

// The prompt of --prompt TEXT (-p; "-" reads standard input) or --file PATH (-f).
void add_prompt_options(Args& args);
std::string prompt_from_args(const Args& args);

}  // namespace g4::cli

#pragma once
// What `run` and `chat` share: loading a model with its chat format (with a progress bar), and
// printing an answer as it streams.
#include <memory>
#include <string>

#include "cli/args.h"
#include "model/model.h"
#include "runtime/chat.h"
#include "runtime/chat_session.h"

namespace g4::cli {

struct LoadedChatModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<ChatFormat> format;
};

// Loads model, tokenizer and template; draws a progress bar on stderr when it is a terminal (or
// when `progress` is forced).
LoadedChatModel load_chat_model(const std::string& path, bool progress, const std::string& mmproj = "");

// Prints a streamed delta: content to stdout, reasoning to stderr (dimmed on a terminal) when
// show_reasoning, tool calls as they complete.
void print_delta(const AnswerStream::Delta& d, bool show_reasoning);

void add_chat_options(Args& args);  // --system, --think, --max-tokens, --ctx, --stop, --kv-type
std::vector<std::string> stop_strings_from_args(const Args& args);

}  // namespace g4::cli

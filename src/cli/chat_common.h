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

// --max-tokens (-1: no limit but the context) and --ctx (cli/common.h), checked against the model and the
// available memory before it is loaded.
struct ChatRunSettings {
  int max_tokens = 0;  // INT_MAX for no limit
  int64_t ctx = 0;
};
ChatRunSettings chat_settings_from_args(const Args& args, KVTypes kv_type);
std::vector<std::string> stop_strings_from_args(const Args& args);

// chat's /save and /load: a conversation as a JSON object {"messages": [...], "enable_thinking": bool}, the
// format `gemma4 chat-template --conversation` takes (the system prompt is the first message when set).
// Loading replaces the session's system prompt, thinking setting and history; a file that is not such a
// conversation (unknown roles or keys, content that is not text) throws g4::Error naming what is wrong.
void save_conversation(const ChatSession& session, const std::string& path);
size_t load_conversation(ChatSession& session, const std::string& path);  // returns the message count

}  // namespace g4::cli

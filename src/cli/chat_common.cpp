#include "cli/chat_common.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <fstream>

#include "cli/common.h"
#include "cli/model_option.h"
#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"

namespace g4::cli {

namespace {
void draw_bar(const char* label, int done, int total) {
  const int width = 30;
  int filled = total > 0 ? done * width / total : width;
  std::fprintf(stderr, "\r%-16s [%s%s] %3d%%", label, std::string(size_t(filled), '#').c_str(),
               std::string(size_t(width - filled), ' ').c_str(), total > 0 ? done * 100 / total : 100);
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}
}  // namespace

LoadedChatModel load_chat_model(const std::string& path, bool progress, const std::string& mmproj) {
  const bool bar = progress || isatty(STDERR_FILENO);
  LoadedChatModel m;
  if (bar) draw_bar("loading model", 0, 3);
  m.model = load_model(path, mmproj);
  if (bar) draw_bar("loading model", 1, 3);
  m.format = load_chat_format(path);
  if (bar) draw_bar("loading model", 3, 3);
  if (bar) m.model->prefetch([](int done, int total) { draw_bar("reading weights", done, total); });
  return m;
}

void print_delta(const AnswerStream::Delta& d, bool show_reasoning) {
  static const bool tty = isatty(STDERR_FILENO);
  if (show_reasoning && !d.reasoning.empty()) {
    std::fprintf(stderr, "%s%s%s", tty ? "\x1b[2m" : "", d.reasoning.c_str(), tty ? "\x1b[0m" : "");
    std::fflush(stderr);
  }
  if (!d.content.empty()) {
    std::fwrite(d.content.data(), 1, d.content.size(), stdout);
    std::fflush(stdout);
  }
  for (const ToolCallDelta& t : d.tool_calls)
    std::printf("\n[tool call %d] %s %s\n", t.index, t.name.c_str(), t.arguments_json.c_str());
}

void add_chat_options(Args& args) {
  args.option("system", "TEXT", "system prompt")
      .flag("think", "let the model think first (its reasoning is shown on stderr)")
      .option("stop", "TEXT", "stop when the answer contains TEXT");
  add_max_tokens_option(args, "maximum answer length in tokens");
  add_ctx_option(args,
                 "context size in tokens; when a conversation outgrows it, chat drops its oldest turns (after the system "
                 "prompt), run refuses a prompt that cannot fit, and an answer that reaches the end stops there with a notice");
  add_kv_type_option(args, KVType::F16);
}

ChatRunSettings chat_settings_from_args(const Args& args, KVTypes kv_type) {
  ChatRunSettings s;
  const int64_t max_tokens = max_tokens_from_args(args);
  s.max_tokens = max_tokens < 0 ? INT_MAX : int(max_tokens);
  RunShape shape;
  shape.chunk = 512;
  shape.kv_types = kv_type;
  shape.checkpoints = ChatSession::kCheckpoints;
  s.ctx = context_from_args(args, args.get("model"), shape);
  check_memory_before_loading(args.get("model"), s.ctx, shape.chunk, kv_type, shape.checkpoints);
  return s;
}

std::vector<std::string> stop_strings_from_args(const Args& args) {
  std::vector<std::string> s;
  if (args.has("stop")) s.push_back(args.get("stop"));
  return s;
}

void save_conversation(const ChatSession& session, const std::string& path) {
  Json messages = Json::array();
  if (!session.system().empty()) messages.push_back({{"role", "system"}, {"content", session.system()}});
  for (const Json& m : session.messages()) messages.push_back(m);
  Json conv{{"messages", messages}, {"enable_thinking", session.thinking()}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << conv.dump(2) << "\n";
    if (!out.flush()) throw Error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {  // whole or not at all
    std::remove(tmp.c_str());
    throw Error("cannot write " + path);
  }
}

size_t load_conversation(ChatSession& session, const std::string& path) {
  const Json conv = parse_json(read_text_file(path), path);
  check(conv.is_object() && conv.contains("messages") && conv["messages"].is_array(),
        path + ": expected a JSON object with a \"messages\" list");
  for (auto it = conv.begin(); it != conv.end(); ++it) {
    // add_generation_prompt: chat always adds the generation prompt, so the key changes nothing here.
    check(it.key() == "messages" || it.key() == "enable_thinking" || it.key() == "add_generation_prompt",
          path + ": the key \"" + it.key() + "\" is not supported by chat (messages, enable_thinking)");
  }
  check(!conv.contains("enable_thinking") || conv["enable_thinking"].is_boolean(), path + ": enable_thinking must be true or false");
  std::string system;
  Json history = Json::array();
  const Json& msgs = conv["messages"];
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Json& m = msgs[i];
    const std::string where = path + ": message " + std::to_string(i + 1);
    check(m.is_object() && m.contains("role") && m["role"].is_string(), where + " needs a \"role\"");
    const std::string role = m["role"].get<std::string>();
    const bool calls = m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty();
    check(m.contains("content") && (m["content"].is_string() || (m["content"].is_null() && calls)),
          where + ": \"content\" must be text (chat has no images or audio)");
    if (role == "system") {
      check(i == 0, where + ": a system message may only come first");
      system = m["content"].get<std::string>();
      continue;
    }
    check(role == "user" || role == "assistant" || role == "tool",
          where + ": unknown role \"" + role + "\" (system, user, assistant, tool)");
    history.push_back(m);
  }
  session.set_system(system);
  session.set_messages(std::move(history));
  if (conv.contains("enable_thinking")) session.set_thinking(conv["enable_thinking"].get<bool>());
  return msgs.size();
}

}  // namespace g4::cli

#include "cli/chat_common.h"

#include <unistd.h>

#include <cstdio>

#include "cli/common.h"
#include "core/json.h"

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
  m.format = ChatFormat::load(path);
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
      .option("max-tokens", "N", "maximum answer length in tokens", false, "512")
      .option("ctx", "N",
              "context size in tokens; when a conversation outgrows it, chat drops its oldest turns (after the system "
              "prompt), run refuses a prompt that cannot fit, and an answer that reaches the end stops there with a notice",
              false, "8192")
      .option("stop", "TEXT", "stop when the answer contains TEXT");
  add_kv_type_option(args, KVType::F16);
}

std::vector<std::string> stop_strings_from_args(const Args& args) {
  std::vector<std::string> s;
  if (args.has("stop")) s.push_back(args.get("stop"));
  return s;
}

}  // namespace g4::cli

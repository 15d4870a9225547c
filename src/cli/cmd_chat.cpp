// gemma4 chat: an interactive, streamed, multi-turn conversation. On a terminal the prompt has line
// editing and a history kept across runs (libedit); piped input is read line by line as it comes.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/command.h"
#include "cli/media_options.h"
#include "cli/common.h"
#include "cli/draft_options.h"
#include "cli/model_option.h"
#include "cli/line_editor.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

const char* kHelp =
    "commands: /reset (forget the conversation), /think (toggle thinking), /system TEXT (set the system prompt),\n"
    "          /save FILE, /load FILE (the conversation as JSON), /image PATH, /audio PATH (attach to the next\n"
    "          message), /help, /exit (or Ctrl-D).\n"
    "input:    \"\"\" opens and closes a multi-line message; a line ending with \\ continues on the next one.\n"
    "          Ctrl-C stops the current answer (at the prompt: drops the line).\n";

enum class Outcome { Handled, Exit };

// The argument of "/cmd ARG" ("" when none).
std::string argument(const std::string& line, size_t command_length) {
  size_t b = line.find_first_not_of(' ', command_length);
  return b == std::string::npos ? "" : line.substr(b);
}

bool is_command(const std::string& line, const char* name) {
  const std::string n(name);
  return line.rfind(n, 0) == 0 && (line.size() == n.size() || line[n.size()] == ' ');
}

// What /image and /audio need: the model's towers, the image token budget and the tower's arithmetic.
struct MediaContext {
  const g4::Model* model = nullptr;
  g4::MediaEncoding encoding;
};

Outcome run_command(const std::string& line, g4::ChatSession& session, const MediaContext& media) {
  if (line == "/exit" || line == "/quit") return Outcome::Exit;
  if (line == "/help") {
    std::fprintf(stderr, "%s", kHelp);
  } else if (line == "/reset") {
    session.reset();
    std::fprintf(stderr, "(conversation cleared)\n");
  } else if (line == "/think") {
    session.set_thinking(!session.thinking());
    std::fprintf(stderr, "(thinking %s)\n", session.thinking() ? "on" : "off");
  } else if (is_command(line, "/system")) {
    const std::string s = argument(line, 7);
    session.set_system(s);
    session.reset();
    std::fprintf(stderr, "(system prompt %s; conversation cleared)\n", s.empty() ? "removed" : "set");
  } else if (is_command(line, "/save") || is_command(line, "/load")) {
    const bool save = line[1] == 's';
    const std::string path = argument(line, 5);
    if (path.empty()) {
      std::fprintf(stderr, "usage: %s FILE\n", save ? "/save" : "/load");
      return Outcome::Handled;
    }
    try {
      if (save) {
        g4::cli::save_conversation(session, path);
        std::fprintf(stderr, "(conversation saved to %s)\n", path.c_str());
      } else {
        const size_t n = g4::cli::load_conversation(session, path);
        std::fprintf(stderr, "(loaded %zu message%s from %s; thinking %s)\n", n, n == 1 ? "" : "s", path.c_str(),
                     session.thinking() ? "on" : "off");
      }
    } catch (const g4::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
  } else if (is_command(line, "/image") || is_command(line, "/audio")) {
    const bool image = line[1] == 'i';
    const std::string path = argument(line, 6);
    if (path.empty()) {
      std::fprintf(stderr, "usage: %s PATH\n", image ? "/image" : "/audio");
      return Outcome::Handled;
    }
    try {
      session.attach(image ? g4::encode_image_file(*media.model, path, media.encoding)
                           : g4::encode_audio_file(*media.model, path));
      std::fprintf(stderr, "(%s attached to the next message: %zu pending)\n", path.c_str(), session.pending_media());
    } catch (const g4::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
  } else {
    std::fprintf(stderr, "unknown command %s\n%s", line.c_str(), kHelp);
  }
  return Outcome::Handled;
}

struct AnswerSettings {
  g4::SamplingParams sampling;
  int max_tokens = 0;
  std::vector<std::string> stops;
  bool drafting = false;  // report drafted/accepted tokens after each answer
};

void answer(g4::ChatSession& session, const std::string& message, const AnswerSettings& s) {
  try {
    g4::TurnResult r = session.ask(message, s.sampling, s.max_tokens, s.stops, [&](const g4::AnswerStream::Delta& d) {
      g4::cli::print_delta(d, session.thinking());
      return g_interrupted == 0;
    });
    std::printf("\n");
    std::fflush(stdout);
    const std::string spec = s.drafting ? ", " + g4::cli::speculative_summary(r.speculative) : "";
    std::fprintf(stderr, "[%d tokens, %.1f tokens/s%s%s%s]\n", r.completion_tokens,
                 r.decode_seconds > 0 ? r.completion_tokens / r.decode_seconds : 0.0, spec.c_str(),
                 g_interrupted ? ", stopped" : "",
                 r.context_full ? ", stopped: the context is full (/reset, or a larger --ctx)" : "");
    if (r.dropped_turns > 0)
      std::fprintf(stderr, "[the context was full: the %d oldest turn%s of the conversation %s dropped]\n", r.dropped_turns,
                   r.dropped_turns == 1 ? "" : "s", r.dropped_turns == 1 ? "was" : "were");
  } catch (const g4::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
}

// Reads messages and commands until /exit, Ctrl-D or the end of stdin.
void chat_loop(g4::ChatSession& session, g4::cli::LineReader& reader, const AnswerSettings& settings,
               const MediaContext& media) {
  g4::cli::MessageAssembler assembler;
  std::string typed;  // the lines of the message being entered, as typed (its history entry)
  for (;;) {
    if (!assembler.pending()) std::fprintf(stderr, "\n");
    g_interrupted = 0;
    std::string text;
    const auto status = reader.read(assembler.pending() ? "... " : "> ", text);
    if (status == g4::cli::LineReader::Status::Eof) {
      if (assembler.pending()) std::fprintf(stderr, "(the unfinished multi-line message was dropped)\n");
      return;
    }
    if (status == g4::cli::LineReader::Status::Interrupted) {
      assembler.clear();
      typed.clear();
      continue;
    }
    if (!assembler.pending() && !text.empty() && text[0] == '/' && text.find('\n') == std::string::npos) {
      reader.remember(text);
      if (run_command(text, session, media) == Outcome::Exit) return;
      continue;
    }
    // A recalled multi-line history entry arrives whole: take it line by line.
    for (size_t begin = 0;;) {
      const size_t end = text.find('\n', begin);
      const std::string line = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
      typed += (typed.empty() ? "" : "\n") + line;
      if (assembler.feed(line)) {
        const std::string message = assembler.take();
        if (!message.empty()) {
          reader.remember(typed);
          answer(session, message, settings);
        }
        typed.clear();
      }
      if (end == std::string::npos) break;
      begin = end + 1;
    }
  }
}

int run_chat(int argc, char** argv) {
  g4::cli::Args args("chat",
                     "Talk with a model interactively. On a terminal: line editing, history (Up/Down, kept across runs),\n"
                     "\"\"\" for multi-line messages, Ctrl-C stops an answer, Ctrl-D or /exit quits; /help lists the commands.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Chat);
  g4::cli::add_chat_options(args);
  g4::cli::add_media_options(args, false, g4::TowerMath::Fast);
  g4::cli::add_sampling_options(args);
  g4::cli::add_draft_options(args);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  args.option("history", "FILE", "where the prompt's history is kept (default: $XDG_STATE_HOME/gemma4/history or "
                                  "~/.local/state/gemma4/history)")
      .flag("no-history", "keep no history file");
  if (!args.parse(argc, argv)) return args.exit_code();
  if (args.has("history") && args.has("no-history")) throw g4::Error("give --history FILE or --no-history, not both");
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  AnswerSettings settings;
  settings.sampling = g4::cli::sampling_from_args(args);
  settings.stops = g4::cli::stop_strings_from_args(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  g4::cli::check_draft_options(args);
  const auto [max_tokens, ctx] = g4::cli::chat_settings_from_args(args, kv_type);
  settings.max_tokens = int(max_tokens);
  g4::cli::LoadedChatModel m = g4::cli::load_chat_model(args.get("model"), true, g4::cli::mmproj_from_args(args));
  g4::cli::LoadedDrafter draft = g4::cli::load_draft_from_args(args, *m.model);
  settings.drafting = draft.drafter != nullptr;
  const g4::MediaEncoding encoding = g4::cli::media_encoding_from_args(args);
  g4::ChatSession session(*m.model, *m.format, ctx, kv_type);
  session.set_drafts(draft.drafts(), draft.draft_max);
  if (args.has("system")) session.set_system(args.get("system"));
  session.set_thinking(args.has("think"));
  struct sigaction sa {};
  sa.sa_handler = on_sigint;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  std::fprintf(stderr, "%s", kHelp);
  const std::string history = args.has("no-history") ? "" : args.has("history") ? args.get("history") : g4::cli::default_history_path();
  g4::cli::LineReader reader(g_interrupted, history);
  chat_loop(session, reader, settings, MediaContext{m.model.get(), encoding});
  return 0;
}

}  // namespace

G4_COMMAND("chat", "talk with a model interactively", run_chat);

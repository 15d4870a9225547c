// gemma4 chat: an interactive, streamed, multi-turn conversation.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/command.h"
#include "cli/media_options.h"
#include "cli/common.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

const char* kHelp =
    "commands: /reset (forget the conversation), /think (toggle thinking), /system TEXT (set the system prompt),\n"
    "          /image PATH, /audio PATH (attach to the next message), /help, /exit (or Ctrl-D). Ctrl-C stops the current answer.\n";

int run_chat(int argc, char** argv) {
  g4::cli::Args args("chat", "Talk with a model interactively. Ctrl-C stops an answer; Ctrl-D or /exit quits.");
  args.option("model", "PATH", "Hugging Face model folder or GGUF file", true);
  g4::cli::add_chat_options(args);
  g4::cli::add_media_options(args, false);
  g4::cli::add_sampling_options(args);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  g4::SamplingParams sampling = g4::cli::sampling_from_args(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  const long long max_tokens = args.get_int("max-tokens"), ctx = args.get_int("ctx");
  if (max_tokens < 1) throw g4::Error("--max-tokens must be at least 1");
  g4::cli::check_memory_before_loading(args.get("model"), ctx, 512, kv_type, g4::ChatSession::kCheckpoints);
  g4::cli::LoadedChatModel m = g4::cli::load_chat_model(args.get("model"), true, g4::cli::mmproj_from_args(args));
  const int image_tokens = g4::cli::image_tokens_from_args(args);
  g4::ChatSession session(*m.model, *m.format, ctx, kv_type);
  if (args.has("system")) session.set_system(args.get("system"));
  session.set_thinking(args.has("think"));
  struct sigaction sa {};
  sa.sa_handler = on_sigint;  // no SA_RESTART: Ctrl-C at the prompt interrupts the read
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  std::fprintf(stderr, "%s", kHelp);
  std::string line;
  for (;;) {
    std::fprintf(stderr, "\n> ");
    std::fflush(stderr);
    g_interrupted = 0;
    if (!std::getline(std::cin, line)) {
      if (g_interrupted) {  // Ctrl-C at the prompt: clear the line, keep going
        std::cin.clear();
        continue;
      }
      break;
    }
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/help") { std::fprintf(stderr, "%s", kHelp); continue; }
    if (line == "/reset") { session.reset(); std::fprintf(stderr, "(conversation cleared)\n"); continue; }
    if (line == "/think") {
      session.set_thinking(!session.thinking());
      std::fprintf(stderr, "(thinking %s)\n", session.thinking() ? "on" : "off");
      continue;
    }
    if (line.rfind("/system", 0) == 0) {
      std::string s = line.size() > 8 ? line.substr(8) : "";
      session.set_system(s);
      session.reset();
      std::fprintf(stderr, "(system prompt %s; conversation cleared)\n", s.empty() ? "removed" : "set");
      continue;
    }
    if (line.rfind("/image ", 0) == 0 || line.rfind("/audio ", 0) == 0) {
      const bool image = line[1] == 'i';
      const std::string path = line.substr(7);
      try {
        session.attach(image ? g4::encode_image_file(*m.model, path, image_tokens) : g4::encode_audio_file(*m.model, path));
        std::fprintf(stderr, "(%s attached to the next message: %zu pending)\n", path.c_str(), session.pending_media());
      } catch (const g4::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
      }
      continue;
    }
    if (line[0] == '/') { std::fprintf(stderr, "unknown command %s\n%s", line.c_str(), kHelp); continue; }
    try {
      g4::TurnResult r = session.ask(line, sampling, int(max_tokens), g4::cli::stop_strings_from_args(args),
                                     [&](const g4::AnswerStream::Delta& d) {
                                       g4::cli::print_delta(d, session.thinking());
                                       return g_interrupted == 0;
                                     });
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[%d tokens, %.1f tokens/s%s%s]\n", r.completion_tokens,
                   r.decode_seconds > 0 ? r.completion_tokens / r.decode_seconds : 0.0, g_interrupted ? ", stopped" : "",
                   r.context_full ? ", stopped: the context is full (/reset, or a larger --ctx)" : "");
      if (r.dropped_turns > 0)
        std::fprintf(stderr, "[the context was full: the %d oldest turn%s of the conversation %s dropped]\n",
                     r.dropped_turns, r.dropped_turns == 1 ? "" : "s", r.dropped_turns == 1 ? "was" : "were");
    } catch (const g4::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
    }
  }
  return 0;
}

}  // namespace

G4_COMMAND("chat", "talk with a model interactively", run_chat);

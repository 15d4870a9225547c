// gemma4 chat: an interactive, streamed, multi-turn conversation.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/draft_options.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_sigint(int) { g_interrupted = 1; }

const char* kHelp =
    "commands: /reset (forget the conversation), /think (toggle thinking), /system TEXT (set the system prompt),\n"
    "          /help, /exit (or Ctrl-D). Ctrl-C stops the current answer.\n";

int run_chat(int argc, char** argv) {
  g4::cli::Args args("chat", "Talk with a model interactively. Ctrl-C stops an answer; Ctrl-D or /exit quits.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Chat);
  g4::cli::add_chat_options(args);
  g4::cli::add_sampling_options(args);
  g4::cli::add_draft_options(args);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  g4::SamplingParams sampling = g4::cli::sampling_from_args(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  g4::cli::check_draft_options(args);
  const auto [max_tokens, ctx] = g4::cli::chat_settings_from_args(args, kv_type);
  g4::cli::LoadedChatModel m = g4::cli::load_chat_model(args.get("model"), true);
  g4::cli::LoadedDrafter draft = g4::cli::load_draft_from_args(args, *m.model);
  g4::ChatSession session(*m.model, *m.format, ctx, kv_type);
  session.set_drafts(draft.drafts(), draft.draft_max);
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
    if (line[0] == '/') { std::fprintf(stderr, "unknown command %s\n%s", line.c_str(), kHelp); continue; }
    try {
      g4::TurnResult r = session.ask(line, sampling, int(max_tokens), g4::cli::stop_strings_from_args(args),
                                     [&](const g4::AnswerStream::Delta& d) {
                                       g4::cli::print_delta(d, session.thinking());
                                       return g_interrupted == 0;
                                     });
      std::printf("\n");
      std::fflush(stdout);
      const std::string spec = draft.drafter ? ", " + g4::cli::speculative_summary(r.speculative) : "";
      std::fprintf(stderr, "[%d tokens, %.1f tokens/s%s%s%s]\n", r.completion_tokens,
                   r.decode_seconds > 0 ? r.completion_tokens / r.decode_seconds : 0.0, spec.c_str(), g_interrupted ? ", stopped" : "",
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

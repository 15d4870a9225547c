// gemma4 run: one prompt, one streamed answer.
#include <cstdio>

#include "cli/args.h"
#include "cli/chat_common.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/media_options.h"
#include "cli/common.h"
#include "cli/draft_options.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace {

int run_run(int argc, char** argv) {
  g4::cli::Args args("run", "Answer one prompt with the model's chat template, streaming the answer to stdout.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Chat);
  g4::cli::add_prompt_options(args);
  g4::cli::add_chat_options(args);
  g4::cli::add_media_options(args, true, g4::TowerMath::Fast);
  g4::cli::add_sampling_options(args);
  g4::cli::add_draft_options(args);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  args.flag("stats", "print timing to stderr after the answer");
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  g4::SamplingParams sampling = g4::cli::sampling_from_args(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  g4::cli::check_draft_options(args);
  const std::string prompt = g4::cli::prompt_from_args(args);  // before loading: -p - reads standard input
  const auto [max_tokens, ctx] = g4::cli::chat_settings_from_args(args, kv_type);
  g4::cli::LoadedChatModel m = g4::cli::load_chat_model(args.get("model"), false, g4::cli::mmproj_from_args(args));
  g4::cli::LoadedDrafter draft = g4::cli::load_draft_from_args(args, *m.model);
  g4::ChatSession session(*m.model, *m.format, ctx, kv_type);
  session.set_drafts(draft.drafts(), draft.draft_max);
  for (auto& media : g4::cli::media_from_args(args, *m.model)) session.attach(std::move(media));
  if (args.has("system")) session.set_system(args.get("system"));
  session.set_thinking(args.has("think"));
  const bool show_reasoning = args.has("think");
  g4::TurnResult r = session.ask(prompt, sampling, max_tokens, g4::cli::stop_strings_from_args(args),
                                 [&](const g4::AnswerStream::Delta& d) {
                                   g4::cli::print_delta(d, show_reasoning);
                                   return true;
                                 });
  std::printf("\n");
  if (r.context_full)
    std::fprintf(stderr, "gemma4 run: the answer stopped after %d tokens because the context of %lld tokens is full "
                         "(use a larger --ctx)\n", r.completion_tokens, (long long)ctx);
  if (args.has("stats"))
    std::fprintf(stderr, "prompt: %d tokens in %.2f s; answer: %d tokens at %.2f tokens/s (%s)\n", r.prompt_tokens,
                 r.prefill_seconds, r.completion_tokens,
                 r.decode_seconds > 0 ? r.completion_tokens / r.decode_seconds : 0.0, g4::stop_reason_name(r.reason));
  if (args.has("stats") && draft.drafter)
    std::fprintf(stderr, "speculative: %s\n", g4::cli::speculative_summary(r.speculative).c_str());
  return 0;
}

}  // namespace

G4_COMMAND("run", "answer one prompt (chat template applied), streamed", run_run);

// gemma4 generate: token ids in, generated token ids out (the engine contract outside checks use).
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/draft_options.h"
#include "cli/sampling_options.h"
#include "core/error.h"
#include "core/json.h"
#include "runtime/generator.h"

namespace {

int run_generate(int argc, char** argv) {
  g4::cli::Args args("generate", "Generate tokens after a prompt given as token ids.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args
      .option("ids", "IDS", "prompt token ids, comma-separated (e.g. 2,17,99)", true)
      .flag("ignore-eos", "keep going after end-of-generation tokens")
      .flag("json", "print {\"ids\":[...]} (generated ids only) as the last stdout line");
  g4::cli::add_max_tokens_option(args, "maximum number of tokens to generate");
  g4::cli::add_ctx_option(args, "context size in tokens: the prompt plus what is generated");
  g4::cli::add_sampling_options(args);
  g4::cli::add_draft_options(args);
  g4::cli::add_kv_type_option(args, g4::KVType::F16);
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  g4::cli::check_draft_options(args);
  std::vector<int32_t> ids = g4::cli::parse_ids(args, "ids");
  const int64_t max_tokens = g4::cli::max_tokens_from_args(args);
  g4::GenerationRequest req;
  req.prompt = ids;
  req.sampling = g4::cli::sampling_from_args(args);
  req.ignore_eos = args.has("ignore-eos");
  g4::RunShape shape;
  shape.kv_types = kv_type;
  const int64_t ctx = g4::cli::context_from_args(args, args.get("model"), shape);
  if (int64_t(ids.size()) >= ctx)
    throw g4::Error("the prompt's " + std::to_string(ids.size()) + " tokens fill the context of " + std::to_string(ctx) +
                    " tokens (--ctx)");
  if (max_tokens >= 0 && int64_t(ids.size()) + max_tokens > ctx)
    throw g4::Error("the prompt (" + std::to_string(ids.size()) + " tokens) and --max-tokens " + std::to_string(max_tokens) +
                    " do not fit the context of " + std::to_string(ctx) + " tokens (--ctx)");
  req.max_tokens = int(max_tokens >= 0 ? max_tokens : ctx - int64_t(ids.size()));  // -1: until the context is full
  g4::cli::check_memory_before_loading(args.get("model"), ctx, 512, kv_type);
  auto model = g4::load_model(args.get("model"));
  g4::cli::LoadedDrafter draft = g4::cli::load_draft_from_args(args, *model);
  req.drafts = draft.drafts();
  req.draft_max = draft.draft_max;
  auto cache = model->new_cache(ctx, 512, kv_type);
  const bool json = args.has("json");
  g4::GenerationResult r = g4::generate(*model, *cache, req, [&](int32_t tok) {
    if (!json) {
      std::printf("%d ", tok);
      std::fflush(stdout);
    }
    return true;
  });
  if (json) {
    g4::Json out{{"ids", r.tokens}};
    if (draft.drafter) {
      out["drafted"] = r.speculative.drafted;
      out["accepted"] = r.speculative.accepted;
    }
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("\n");
  }
  double tps = r.decode_seconds > 0 ? double(r.tokens.size()) / r.decode_seconds : 0;
  std::fprintf(stderr, "prompt %d tokens in %.3f s, generated %zu tokens at %.2f tokens/s (%s)\n", r.prompt_tokens,
               r.prefill_seconds, r.tokens.size(), tps, r.finish_reason.c_str());
  if (draft.drafter) std::fprintf(stderr, "speculative: %s\n", g4::cli::speculative_summary(r.speculative).c_str());
  return 0;
}

}  // namespace

G4_COMMAND("generate", "generate token ids after a prompt of token ids", run_generate);

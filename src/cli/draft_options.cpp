#include "cli/draft_options.h"

#include <cstdio>

#include "core/error.h"

namespace g4::cli {

void add_draft_options(Args& args) {
  args.option("draft", "PATH",
              "speculative decoding with a Gemma 4 MTP drafter (Hugging Face gemma4_assistant folder or gemma4-assistant "
              "GGUF): same output, fewer target passes");
  args.option("draft-max", "N", "most tokens drafted per target pass (with --draft; default 4)");
}

namespace {
constexpr long long kMaxDraft = 32;
}

void check_draft_options(const Args& args) {
  if (!args.has("draft-max")) return;
  if (!args.has("draft")) throw Error("--draft-max needs --draft (the drafter to use)");
  const long long n = args.get_int("draft-max");
  if (n < 1 || n > kMaxDraft) throw Error("--draft-max must be between 1 and " + std::to_string(kMaxDraft));
}

LoadedDrafter load_draft_from_args(const Args& args, const Model& target) {
  check_draft_options(args);
  LoadedDrafter d;
  if (!args.has("draft")) return d;
  d.drafter = load_drafter(args.get("draft"));
  try {
    d.drafter->check_compatible(target.config());
  } catch (const Error& e) {
    throw Error("--draft " + args.get("draft") + ": " + e.what());
  }
  d.source = std::make_unique<DrafterSource>(target, *d.drafter);
  d.draft_max = args.has("draft-max") ? int(args.get_int("draft-max")) : 4;
  return d;
}

std::string speculative_summary(const SpeculativeStats& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "drafted %lld, accepted %lld (%.1f %%)", (long long)s.drafted, (long long)s.accepted,
                100.0 * s.acceptance());
  return buf;
}

}  // namespace g4::cli

#pragma once
// --draft PATH / --draft-max N: speculative decoding with a Gemma 4 MTP drafter, for every command that
// generates (run, chat, generate, serve).
#include <memory>
#include <string>

#include "cli/args.h"
#include "model/drafter.h"
#include "model/model.h"
#include "runtime/speculative.h"

namespace g4::cli {

void add_draft_options(Args& args);

struct LoadedDrafter {
  std::unique_ptr<Drafter> drafter;       // null without --draft
  std::unique_ptr<DrafterSource> source;  // the drafter bound to the target
  int draft_max = 0;                      // 0 without --draft
  DraftSource* drafts() const { return source.get(); }
};

// Validates the options (--draft-max without --draft is refused) before anything is loaded.
void check_draft_options(const Args& args);
// Loads the drafter named by --draft (if any) and checks that it fits `target` (g4::Error otherwise).
LoadedDrafter load_draft_from_args(const Args& args, const Model& target);

// "drafted 120, accepted 84 (70.0 %)".
std::string speculative_summary(const SpeculativeStats& s);

}  // namespace g4::cli

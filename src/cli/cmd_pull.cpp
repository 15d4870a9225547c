// gemma4 pull: download a model from the Hugging Face hub into the local cache (hub/hub_download.h).
#include <unistd.h>

#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "hub/hub_download.h"
#include "hub/model_locator.h"

namespace {

int run_pull(int argc, char** argv) {
  g4::cli::Args args("pull",
                     "Download a model from the Hugging Face hub into the local Hugging Face cache (the layout\n"
                     "huggingface_hub uses: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), so that\n"
                     "--model REPO[:QUANT] finds it. REPO[:QUANT] is a repo id such as google/gemma-4-E2B-it (a\n"
                     "safetensors checkpoint) or ORG/gemma-4-E2B-it-GGUF:Q8_0 (one GGUF, chosen by its quantization\n"
                     "as llama.cpp's -hf does; default Q4_K_M, then Q8_0, then the first). Transfers resume where they\n"
                     "stopped and every file is checked against the hub's SHA-256 before it is used. HF_ENDPOINT names\n"
                     "another hub; HF_TOKEN (or the token `hf auth login` saved) is sent for gated and private repos.");
  args.option("repo", "REPO[:QUANT]", "what to download (also the first argument without --repo)")
      .option("revision", "REV", "branch, tag or commit", false, "main")
      .flag("quiet", "no progress bar");
  // The repo may come first, as in `gemma4 pull org/name:Q8_0`.
  std::vector<char*> rest(argv, argv + argc);
  std::string positional;
  if (argc >= 2 && argv[1][0] != '-') {
    positional = argv[1];
    rest.erase(rest.begin() + 1);
  }
  if (!args.parse(int(rest.size()), rest.data())) return args.exit_code();
  if (!positional.empty() && args.has("repo")) throw g4::Error("give the repo once (as the first argument or --repo)");
  const std::string spec = positional.empty() ? args.get("repo") : positional;
  if (spec.empty()) throw g4::Error("which model? e.g. gemma4 pull ORG/gemma-4-E2B-it-GGUF:Q8_0");
  const std::optional<g4::hub::RepoRef> ref = g4::hub::parse_repo_ref(spec);
  if (!ref) throw g4::Error("'" + spec + "' is not a Hugging Face repo id of the form org/name or org/name:QUANT");
  g4::hub::PullOptions o;
  o.revision = args.get("revision");
  o.progress = !args.has("quiet") && isatty(STDERR_FILENO);
  o = g4::hub::pull_options_from_env(o);
  std::fprintf(stderr, "pulling %s from %s into %s\n", ref->str().c_str(), o.endpoint.c_str(),
               g4::hub::repo_dir(ref->repo).c_str());
  const g4::hub::PullResult r = g4::hub::pull(*ref, o);
  std::fprintf(stderr, "%d file%s downloaded (%.1f MiB), %d already cached\n", r.files_fetched, r.files_fetched == 1 ? "" : "s",
               double(r.downloaded) / (1 << 20), r.files_cached);
  std::printf("%s\n", r.model_path.c_str());
  return 0;
}

}  // namespace

G4_COMMAND("pull", "download a model from the Hugging Face hub into the local cache", run_pull);

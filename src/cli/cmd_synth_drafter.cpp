// gemma4 synth-drafter: a random-weight MTP drafter (Hugging Face folder) that fits a target model, for
// trying speculative decoding end to end and for benchmarks (random drafts are almost never accepted).
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "model/drafter.h"
#include "model/memory_plan.h"

namespace {

int run_synth_drafter(int argc, char** argv) {
  g4::cli::Args args("synth-drafter",
                     "Write a Gemma 4 MTP drafter (gemma4_assistant, Hugging Face folder, bf16) with RANDOM weights that fits "
                     "the target's geometry. Defaults follow the released assistants: 256 wide with ordered embeddings for "
                     "E2B/E4B-sized targets, 1024 wide with 32 heads and a plain head for larger ones.");
  args.option("model", "PATH", "target model (Hugging Face folder or GGUF)", true)
      .option("out", "DIR", "output folder", true)
      .option("hidden", "N", "drafter hidden size")
      .option("ffn", "N", "drafter MLP width")
      .option("layers", "N", "drafter layers (the last one full attention)")
      .option("heads", "N", "drafter query heads")
      .option("ordered", "yes|no", "ordered (centroid) embeddings")
      .option("seed", "N", "random seed", false, "7");
  if (!args.parse(argc, argv)) return args.exit_code();
  const g4::ModelConfig target = g4::read_model_config(args.get("model"));
  g4::DrafterShape s = g4::drafter_shape_for(target);
  auto positive = [&](const char* name, int& field) {
    if (!args.has(name)) return;
    const long long v = args.get_int(name);
    if (v < 1 || v > 65536) throw g4::Error(std::string("--") + name + " must be between 1 and 65536");
    field = int(v);
  };
  positive("hidden", s.hidden);
  positive("ffn", s.ffn);
  positive("layers", s.layers);
  positive("heads", s.heads);
  if (args.has("ordered")) {
    const std::string o = args.get("ordered");
    if (o != "yes" && o != "no") throw g4::Error("--ordered must be yes or no");
    s.ordered = o == "yes";
  }
  if (s.layers < 2) throw g4::Error("--layers must be at least 2 (sliding layers, then one full layer)");
  g4::write_random_hf_drafter(args.get("out"), g4::drafter_config_json(target, s), uint64_t(args.get_int("seed")));
  std::printf("wrote a random-weight drafter (%d layers, hidden %d, %s head) for %s to %s\n", s.layers, s.hidden,
              s.ordered ? "ordered" : "plain", args.get("model").c_str(), args.get("out").c_str());
  return 0;
}

}  // namespace

G4_COMMAND("synth-drafter", "write a random-weight MTP drafter that fits a target (tests, benchmarks)", run_synth_drafter);

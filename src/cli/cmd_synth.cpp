// gemma4 synth: random weights at real Gemma 4 sizes in llama.cpp's GGUF layout, for benchmarks.
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/gguf_output.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "convert/convert.h"

namespace {

int run_synth(int argc, char** argv) {
  g4::cli::Args args("synth", "Write a GGUF with random weights at a real Gemma 4 size, in llama.cpp's layout (for benchmarks).");
  args.option("arch", "A", "e2b, e4b, 26b-a4b or 31b")
      .option("config", "FILE", "instead of --arch: a Hugging Face config.json giving the shapes")
      .option("type", "T", "tensor type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs, iq3_xxs, iq3_s, iq2_s, iq1_m, mxfp4", false, "q8_0")
      .option("out", "FILE", "output .gguf file", true)
      .option("vocab", "FILE", "GGUF to copy tokenizer.* metadata from (default: the shared gemma4-vocab.gguf)")
      .option("seed", "N", "random seed", false, "1")
      .flag("quiet", "no progress bar");
  g4::cli::add_thread_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::SynthOptions o;
  if (args.has("arch") == args.has("config")) throw g4::Error("synth: give exactly one of --arch (e2b, e4b, 26b-a4b, 31b) or --config FILE");
  o.arch = args.has("arch") ? args.get("arch") : "";
  o.config_json = args.has("config") ? args.get("config") : "";
  o.out = args.get("out");
  o.type = g4::parse_wtype(args.get("type"));
  o.vocab = args.has("vocab") ? args.get("vocab") : g4::cli::default_vocab();
  o.seed = uint64_t(args.get_int("seed"));
  o.progress = !args.has("quiet");
  g4::cli::print_report(g4::synth_gguf(o), o.out);
  return 0;
}

}  // namespace

G4_COMMAND("synth", "write a random-weight GGUF at a real Gemma 4 size (benchmarks)", run_synth);

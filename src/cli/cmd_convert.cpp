// gemma4 convert: a Hugging Face folder to a llama.cpp-compatible GGUF file.
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/gguf_output.h"
#include "core/mapped_file.h"
#include "convert/convert.h"
#include "convert/mmproj_writer.h"

namespace {

int run_convert(int argc, char** argv) {
  g4::cli::Args args("convert", "Convert a Hugging Face Gemma 4 / Gemma 3 folder to a GGUF file llama.cpp can load.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args
      .option("out", "FILE", "output .gguf file", true)
      .option("type", "T", "tensor type: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k", false, "bf16")
      .option("vocab", "FILE", "GGUF to copy tokenizer.* metadata from (default: the shared gemma4-vocab.gguf)")
      .option("mmproj-out", "FILE", "also write the vision/audio towers as a llama.cpp projector GGUF (mmproj)")
      .flag("quiet", "no progress bar");
  g4::cli::add_thread_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::ConvertOptions o;
  o.model_dir = args.get("model");
  o.out = args.get("out");
  o.type = g4::parse_wtype(args.get("type"));
  o.vocab = args.has("vocab") ? args.get("vocab") : g4::cli::default_vocab();
  o.progress = !args.has("quiet");
  g4::cli::print_report(g4::convert_hf_to_gguf(o), o.out);
  if (args.has("mmproj-out")) {
    const g4::MmprojReport rep = g4::write_mmproj_gguf(o.model_dir, args.get("mmproj-out"));
    for (const std::string& n : rep.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    if (rep.written)
      std::fprintf(stderr, "wrote %s: %zu projector tensors (%.1f MiB)\n", args.get("mmproj-out").c_str(), rep.n_tensors, double(rep.bytes) / (1 << 20));
  } else if (g4::has_media_towers(o.model_dir)) {
    std::fprintf(stderr, "note: %s has media towers (vision/audio), left out of %s; --mmproj-out FILE writes them as a projector GGUF\n",
                 o.model_dir.c_str(), o.out.c_str());
  }
  return 0;
}

}  // namespace

G4_COMMAND("convert", "convert a Hugging Face folder to a llama.cpp-compatible GGUF", run_convert);

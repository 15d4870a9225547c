// gemma4 convert: a Hugging Face folder to a llama.cpp-compatible GGUF file.
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/common.h"
#include "core/mapped_file.h"
#include "model/convert.h"

namespace {

std::string default_vocab() {
  std::string p = std::string(G4_DEFAULT_SHARED) + "/fixtures/tokenizer/gemma4-vocab.gguf";
  return g4::file_exists(p) ? p : g4::default_vocab_path();
}

void print_report(const g4::WriteReport& r, const std::string& out) {
  for (const std::string& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (!r.fallbacks.empty()) {
    std::fprintf(stderr, "%zu tensors fell back to another type (row width not a multiple of the block size):\n", r.fallbacks.size());
    for (const std::string& f : r.fallbacks) std::fprintf(stderr, "  %s\n", f.c_str());
  }
  std::fprintf(stderr, "wrote %s: %zu tensors, %.3f GB of tensor data\n", out.c_str(), r.n_tensors, double(r.bytes) / 1e9);
}

int run_convert(int argc, char** argv) {
  g4::cli::Args args("convert", "Convert a Hugging Face Gemma 4 / Gemma 3 folder to a GGUF file llama.cpp can load.");
  args.option("model", "DIR", "Hugging Face model folder (config.json + safetensors)", true)
      .option("out", "FILE", "output .gguf file", true)
      .option("type", "T", "tensor type: f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k", false, "bf16")
      .option("vocab", "FILE", "GGUF to copy tokenizer.* metadata from (default: the shared gemma4-vocab.gguf)")
      .flag("quiet", "no progress bar");
  g4::cli::add_thread_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::ConvertOptions o;
  o.model_dir = args.get("model");
  o.out = args.get("out");
  o.type = g4::parse_wtype(args.get("type"));
  o.vocab = args.has("vocab") ? args.get("vocab") : default_vocab();
  o.progress = !args.has("quiet");
  print_report(g4::convert_hf_to_gguf(o), o.out);
  return 0;
}

}  // namespace

G4_COMMAND("convert", "convert a Hugging Face folder to a llama.cpp-compatible GGUF", run_convert);

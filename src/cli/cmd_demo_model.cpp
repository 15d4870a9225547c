// gemma4 demo-model: writes the embedded default model, a tiny Gemma 4 with RANDOM weights, the real
// Gemma 4 vocabulary and the official chat template (both taken from ../shared when present).
#include <cstdio>
#include <fstream>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "convert/demo_model.h"

namespace {

void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw g4::Error("cannot read '" + from + "'");
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
  if (!out) throw g4::Error("cannot write '" + to + "'");
}

int run_demo_model(int argc, char** argv) {
  g4::cli::Args args("demo-model",
                     "Write a tiny Gemma 4 checkpoint with RANDOM weights (its answers are noise) plus the real\n"
                     "Gemma 4 tokenizer and chat template, for trying the tools end to end.");
  args.option("out", "DIR", "output folder", true)
      .option("vocab", "GGUF", "Gemma 4 vocabulary GGUF to copy as tokenizer.gguf", false,
              std::string(G4_DEFAULT_SHARED) + "/fixtures/tokenizer/gemma4-vocab.gguf")
      .option("template", "FILE", "chat template to copy as chat_template.jinja", false,
              std::string(G4_DEFAULT_SHARED) + "/fixtures/chat/gemma4-31b-it.jinja")
      .option("seed", "N", "random seed", false, "1234")
      .flag("media", "add tiny random vision and audio towers (images and audio in, as E2B/E4B take them)");
  if (!args.parse(argc, argv)) return args.exit_code();
  const std::string dir = args.get("out");
  g4::write_random_hf_model(dir, args.has("media") ? g4::demo_gemma4_media_config() : g4::demo_gemma4_config(),
                            uint64_t(args.get_int("seed")));
  if (g4::file_exists(args.get("vocab"))) copy_file(args.get("vocab"), dir + "/tokenizer.gguf");
  else std::fprintf(stderr, "warning: no vocabulary at %s; the demo model has no tokenizer\n", args.get("vocab").c_str());
  if (g4::file_exists(args.get("template"))) copy_file(args.get("template"), dir + "/chat_template.jinja");
  std::printf("wrote a random-weight Gemma 4 demo model to %s\n", dir.c_str());
  return 0;
}

}  // namespace

G4_COMMAND("demo-model", "write a tiny random-weight Gemma 4 model (the embedded default)", run_demo_model);

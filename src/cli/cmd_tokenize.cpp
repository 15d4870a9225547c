// gemma4 tokenize: text to token ids with a model's tokenizer.
//
//   gemma4 tokenize --model PATH [--special] [--bos] [--text TEXT]   all of stdin (or TEXT) -> [ids]
//   gemma4 tokenize --model PATH --jsonl                              one JSON string per line -> [ids]
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "core/error.h"
#include "core/json.h"
#include "text/tokenizer.h"

namespace {

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

int run_tokenize(int argc, char** argv) {
  g4::cli::Args args("tokenize", "Print the token ids of text (stdin, --text, or JSON lines with --jsonl).");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args.option("text", "TEXT", "text to tokenize instead of reading stdin");
  args.flag("special", "recognise special tokens written in the text, e.g. <|turn> (trusted template text only)");
  args.flag("bos", "start with the BOS token");
  args.flag("jsonl", "read one JSON string per stdin line, print one JSON array of ids per line");
  if (!args.parse(argc, argv)) return args.exit_code();
  if (args.has("jsonl") && args.has("text")) throw g4::Error("--text and --jsonl cannot be combined (--jsonl reads stdin)");

  auto tok = g4::Tokenizer::load(args.get("model"));
  const bool special = args.has("special"), bos = args.has("bos");

  if (!args.has("jsonl")) {
    std::string text = args.has("text") ? args.get("text")
                                        : std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::printf("%s\n", ids_json(tok->encode(text, special, bos)).c_str());
    return 0;
  }
  int errors = 0;
  std::string line;
  for (long n = 1; std::getline(std::cin, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    g4::Json j = g4::Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_string()) {
      ++errors;
      g4::Json err = {{"error", "line " + std::to_string(n) + ": expected a JSON string such as \"Hello\\n\""}};
      std::printf("%s\n", err.dump().c_str());
    } else {
      std::printf("%s\n", ids_json(tok->encode(j.get_ref<const std::string&>(), special, bos)).c_str());
    }
    std::fflush(stdout);
  }
  return errors ? 1 : 0;
}

}  // namespace

G4_COMMAND("tokenize", "text to token ids (stdin, --text, or --jsonl lines)", run_tokenize);

// gemma4 detokenize: token ids to text with a model's tokenizer.
//
//   gemma4 detokenize --model PATH --jsonl [--skip-special]   one JSON array of ids per line -> JSON string
//   gemma4 detokenize --model PATH --ids 2,9259,1902          -> the text, raw
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "core/error.h"
#include "core/json.h"
#include "text/tokenizer.h"

namespace {

int run_detokenize(int argc, char** argv) {
  g4::cli::Args args("detokenize", "Turn token ids back into text (JSON lines with --jsonl, or --ids).");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args.option("ids", "LIST", "comma-separated ids to decode (prints the raw text)");
  args.flag("jsonl", "read one JSON array of ids per stdin line, print one JSON string per line");
  args.flag("skip-special", "leave out control tokens such as <bos> and <turn|>");
  if (!args.parse(argc, argv)) return args.exit_code();
  if (!args.has("jsonl") && !args.has("ids")) throw g4::Error("give --jsonl (ids on stdin) or --ids 2,9259,1902");

  auto tok = g4::Tokenizer::load(args.get("model"));
  const bool skip = args.has("skip-special");
  if (args.has("ids")) {
    std::string text = tok->decode(g4::cli::parse_ids(args, "ids"), skip);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("\n");
    return 0;
  }
  int errors = 0;
  std::string line;
  for (long n = 1; std::getline(std::cin, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string error;
    std::vector<int32_t> ids;
    g4::Json j = g4::Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_array()) {
      error = "expected a JSON array of token ids such as [2,9259]";
    } else {
      for (const auto& v : j) {
        if (!v.is_number_integer()) {
          error = "expected integer token ids, found " + v.dump();
          break;
        }
        int64_t id = v.get<int64_t>();
        if (id < 0 || id >= tok->vocab_size()) {
          error = "token id " + std::to_string(id) + " is out of range (the vocabulary has ids 0.." +
                  std::to_string(tok->vocab_size() - 1) + ")";
          break;
        }
        ids.push_back(int32_t(id));
      }
    }
    if (!error.empty()) {
      ++errors;
      g4::Json err = {{"error", "line " + std::to_string(n) + ": " + error}};
      std::printf("%s\n", err.dump().c_str());
    } else {
      // Token bytes need not be whole UTF-8 characters: invalid sequences print as U+FFFD.
      std::printf("%s\n", g4::Json(tok->decode(ids, skip)).dump(-1, ' ', false, g4::Json::error_handler_t::replace).c_str());
    }
    std::fflush(stdout);
  }
  return errors ? 1 : 0;
}

}  // namespace

G4_COMMAND("detokenize", "token ids to text (--jsonl lines or --ids)", run_detokenize);

#include "cli/model_option.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "hub/hub_download.h"
#include "hub/model_locator.h"
#include "text/tokenizer.h"

namespace g4::cli {

namespace {

std::string& chat_template_file() {
  static std::string path;
  return path;
}

// Asks on the terminal; anything but an explicit no is a yes (Enter accepts).
bool confirm(const std::string& question) {
  std::fprintf(stderr, "%s [Y/n] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer.empty() || answer[0] == 'y' || answer[0] == 'Y';
}

constexpr size_t kMaxPromptBytes = size_t(256) << 20;

std::string read_bounded(std::istream& in, const std::string& what) {
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, size_t(in.gcount()));
    if (text.size() > kMaxPromptBytes) throw Error(what + " is larger than 256 MiB");
  }
  return text;
}

void resolve_model(Args& a, ModelUse use) {
  if (use == ModelUse::Chat && a.has("chat-template-file")) {
    if (!file_exists(a.get("chat-template-file")))
      throw Error("--chat-template-file: '" + a.get("chat-template-file") + "' does not exist");
    chat_template_file() = a.get("chat-template-file");
  }
  const std::string spec = a.get("model");
  const hub::LocatedModel m = hub::locate_model(spec);
  if (m.kind != hub::LocatedModel::Kind::Path) a.set("model-name", m.ref.repo);
  if (m.kind != hub::LocatedModel::Kind::NotCached) {
    a.set("model", m.path);
    return;
  }
  const bool can_pull = use == ModelUse::Chat;
  bool pull = can_pull && a.has("pull");
  if (!pull && can_pull && isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
    pull = confirm(m.ref.str() + " is not in the local Hugging Face cache (" + m.hint + "). Download it now?");
  if (!pull)
    throw Error(m.ref.str() + " is not in the local Hugging Face cache (" + m.hint + "): download it with `gemma4 pull " +
                m.ref.str() + "`" + (can_pull ? " (or add --pull)" : ""));
  hub::PullOptions o;
  o.progress = isatty(STDERR_FILENO);
  const hub::PullResult r = hub::pull(m.ref, hub::pull_options_from_env(o));
  a.set("model", r.model_path);
}

}  // namespace

void add_model_option(Args& args, ModelUse use) {
  args.option("model", "MODEL",
              "model folder, GGUF file, or Hugging Face repo id org/name[:QUANT] from the local cache "
              "(see `gemma4 pull`)",
              true);
  if (use == ModelUse::Chat) {
    args.flag("pull", "download the model first when it is a repo id missing from the cache (default: ask on a terminal)")
        .option("chat-template-file", "FILE", "use this Jinja chat template instead of the model's");
  }
  args.after_parse([use](Args& a) { resolve_model(a, use); });
}

std::unique_ptr<ChatFormat> load_chat_format(const std::string& model_path) {
  if (chat_template_file().empty()) return ChatFormat::load(model_path);
  std::shared_ptr<const Tokenizer> tok = Tokenizer::load(model_path);
  return std::make_unique<ChatFormat>(std::move(tok), read_text_file(chat_template_file()), chat_template_file());
}

void add_prompt_options(Args& args) {
  args.option("prompt", "TEXT", "the user's message ('-': read it from standard input)")
      .option("file", "PATH", "read the user's message from this file");
}

std::string prompt_from_args(const Args& args) {
  const bool p = args.has("prompt"), f = args.has("file");
  if (p && f) throw Error("give the prompt once: --prompt (-p) or --file (-f), not both");
  if (!p && !f) throw Error("no prompt: give it with -p TEXT, -p - (standard input) or -f FILE");
  if (f) {
    std::ifstream in(args.get("file"), std::ios::binary);
    if (!in) throw Error("--file: cannot read '" + args.get("file") + "'");
    return read_bounded(in, "--file " + args.get("file"));
  }
  if (args.get("prompt") == "-") return read_bounded(std::cin, "the prompt on standard input");
  return args.get("prompt");
}

}  // namespace g4::cli

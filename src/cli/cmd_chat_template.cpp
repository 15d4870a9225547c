// gemma4 chat-template: renders a conversation through a model's chat template, exactly as transformers'
// apply_chat_template would, and prints the text with nothing appended.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/command.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "template/chat_template.h"

namespace {

int run_chat_template(int argc, char** argv) {
  g4::cli::Args args("chat-template",
                     "Render a conversation with a chat template and print the text exactly (no newline added).\n"
                     "The conversation file is a JSON object with \"messages\" and optionally \"tools\",\n"
                     "\"add_generation_prompt\", \"enable_thinking\", \"bos_token\"; every key becomes a template\n"
                     "variable. As in transformers, add_generation_prompt defaults to false, tools and documents to\n"
                     "none, and --model supplies bos_token/eos_token/unk_token/pad_token unless the file sets them.");
  args.option("model", "PATH", "model folder (chat_template.jinja or tokenizer_config.json) or .gguf file");
  args.option("template", "FILE", "a Jinja chat template file (instead of --model)");
  args.option("conversation", "FILE.json", "the conversation to render", /*required=*/true);
  if (!args.parse(argc, argv)) return args.exit_code();

  const bool has_model = args.has("model"), has_template = args.has("template");
  g4::check(has_model != has_template, "give exactly one of --model PATH or --template FILE");

  std::string source, origin;
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  if (has_model) {
    origin = args.get("model");
    source = g4::load_chat_template(origin);
    context = g4::load_special_tokens(origin);
  } else {
    origin = args.get("template");
    source = g4::read_text_file(origin);
  }

  const std::string conv_path = args.get("conversation");
  nlohmann::ordered_json conv;
  try {
    conv = nlohmann::ordered_json::parse(g4::read_text_file(conv_path));
  } catch (const nlohmann::json::parse_error& e) {
    throw g4::Error(conv_path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  g4::check(conv.is_object(), conv_path + ": expected a JSON object with a \"messages\" list");
  g4::check(conv.contains("messages") && conv["messages"].is_array(),
            conv_path + ": expected a \"messages\" list in the conversation object");

  context["add_generation_prompt"] = false;
  context["tools"] = nullptr;
  context["documents"] = nullptr;
  for (auto it = conv.begin(); it != conv.end(); ++it) context[it.key()] = it.value();

  g4::ChatTemplate tpl(source, origin);
  std::string text = tpl.render(context);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

G4_COMMAND("chat-template", "render a conversation with a model's chat template", run_chat_template);

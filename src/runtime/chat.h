#pragma once
// The chat layer shared by `run`, `chat` and the server: messages in, prompt token ids out; generated
// token ids in, structured deltas (reasoning, content, tool calls) out, with stop strings honoured.
//
// Security: text that users typed (message contents, tool results, tool arguments) is tokenized as
// plain text, so a user writing "<turn|>" gets those characters, not the control token. Only the
// template's own text is scanned for special tokens.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "runtime/detokenizer.h"
#include "runtime/output_parser.h"
#include "runtime/stop.h"
#include "template/chat_template.h"
#include "text/tokenizer.h"

namespace g4 {

struct ChatOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = false;
  Json extra_context = Json::object();  // more template variables (e.g. from a request)
};

class ChatFormat {
 public:
  ChatFormat(std::shared_ptr<const Tokenizer> tokenizer, std::string template_source, std::string origin);
  // Tokenizer and chat template of a model folder or GGUF file.
  static std::unique_ptr<ChatFormat> load(const std::string& model_path);

  // The rendered prompt text, exactly as the template writes it.
  std::string render(const Json& messages, const Json& tools, const ChatOptions& options) const;
  // Prompt token ids (the template writes <bos> itself; none is added).
  std::vector<int32_t> prompt_ids(const Json& messages, const Json& tools, const ChatOptions& options) const;

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }

 private:
  struct Specials;  // the strings of the tokenizer's special tokens
  std::shared_ptr<const Tokenizer> tokenizer_;
  ChatTemplate template_;
  std::shared_ptr<const Specials> specials_;
};

// One answer as it streams: feed each generated token; get text-level deltas.
class AnswerStream {
 public:
  struct Delta {
    std::string text;                     // raw answer text newly safe to show (control tokens omitted)
    std::string reasoning, content;       // the same text split by the output parser
    std::vector<ToolCallDelta> tool_calls;
    bool stop = false;                    // a stop string or end-of-generation token ended the answer
  };
  AnswerStream(const Tokenizer& tokenizer, StopConfig stop, bool start_in_reasoning = false);
  Delta push(int32_t token);
  Delta finish();                         // flushes held-back text
  StopReason reason() const { return stop_.reason(); }
  const std::string& full_text() const { return full_; }

 private:
  Delta parse(std::string text, bool stop);
  const Tokenizer& tokenizer_;
  IncrementalDetokenizer detok_;
  StopDetector stop_;
  OutputParser parser_;
  std::string full_;
  bool finished_ = false;
};

}  // namespace g4

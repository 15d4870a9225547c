#pragma once
// The chat layer shared by `run`, `chat` and the server: messages in, prompt token ids out; generated
// token ids in, structured deltas (reasoning, content, tool calls) out, with stop strings honoured.
//
// Security: text that users typed (message contents, tool results, tool arguments) is tokenized as
// plain text, so a user writing "<turn|>" gets those characters, not the control token. Only the
// template's own text is scanned for special tokens.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "runtime/detokenizer.h"
#include "runtime/output_parser.h"
#include "runtime/stop.h"
#include "core/error.h"
#include "template/chat_template.h"
#include "text/tokenizer.h"

namespace g4 {

// Gemma 4's control-token strings, as the chat template writes them and the model answers with them.
// Code outside src/runtime asks ChatFormat (or uses these names) instead of spelling them out.
namespace gemma4 {
inline constexpr std::string_view kTurnEnd = "<turn|>";              // end of a turn (end of generation)
inline constexpr std::string_view kChannelOpen = "<|channel>";       // opens a channel: "<|channel>thought\n"
inline constexpr std::string_view kChannelClose = "<channel|>";
inline constexpr std::string_view kThoughtChannel = "<|channel>thought\n";  // a prompt ending so answers in thought
inline constexpr std::string_view kToolCallOpen = "<|tool_call>";    // <|tool_call>call:NAME{...}<tool_call|>
inline constexpr std::string_view kToolCallClose = "<tool_call|>";
inline constexpr std::string_view kToolResponse = "<|tool_response>";  // ends the answer after tool calls
inline constexpr std::string_view kQuote = "<|\"|>";                  // string delimiter inside tool-call arguments
}  // namespace gemma4

struct ChatOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = false;
  Json extra_context = Json::object();  // more template variables (e.g. from a request)
  // Bounded work (a server): a prompt of more than this many tokens is refused with PromptTooLong before
  // it is tokenized whole, the template's output is capped at what that many tokens can hold, and a
  // render may take at most `max_template_steps` operations. <= 0: unbounded (the template's defaults).
  int64_t max_prompt_tokens = 0;
  uint64_t max_template_steps = 5'000'000;
};

// The prompt cannot fit: it has at least `min_tokens` tokens (a lower bound, not a count).
class PromptTooLong : public Error {
 public:
  PromptTooLong(int64_t min_tokens, int64_t limit)
      : Error("the prompt has at least " + std::to_string(min_tokens) + " tokens, more than " + std::to_string(limit)),
        min_tokens(min_tokens) {}
  int64_t min_tokens;
};

class ChatFormat {
 public:
  ChatFormat(std::shared_ptr<const Tokenizer> tokenizer, std::string template_source, std::string origin);
  // Tokenizer and chat template of a model folder or GGUF file.
  static std::unique_ptr<ChatFormat> load(const std::string& model_path);

  // The rendered prompt text, exactly as the template writes it.
  std::string render(const Json& messages, const Json& tools, const ChatOptions& options) const;
  // Prompt token ids (the template writes <bos> itself; none is added). Throws PromptTooLong (see
  // ChatOptions::max_prompt_tokens) or g4::Error when the template fails.
  std::vector<int32_t> prompt_ids(const Json& messages, const Json& tools, const ChatOptions& options) const;

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  std::shared_ptr<const Tokenizer> tokenizer_ptr() const { return tokenizer_; }
  const std::string& template_source() const { return template_.source(); }

  // The longest token's byte length: a text of n bytes has at least ceil(n / max_token_bytes()) tokens.
  size_t max_token_bytes() const { return max_token_bytes_; }
  int64_t min_tokens(std::string_view text) const {
    return int64_t((text.size() + max_token_bytes_ - 1) / max_token_bytes_);
  }
  // Whether a prompt ends inside the thought channel (it was rendered with thinking on), so the
  // answer starts with reasoning.
  bool opens_reasoning(const std::vector<int32_t>& prompt) const;
  // The token that opens a tool call, if the vocabulary has it.
  std::optional<int32_t> tool_call_token() const { return tokenizer_->find_token(gemma4::kToolCallOpen); }

  // Thread safety: a ChatFormat is immutable once built; render and prompt_ids may run concurrently
  // (every render has its own interpreter; the tokenizer is immutable).

 private:
  struct Specials;  // the strings of the tokenizer's special tokens
  std::shared_ptr<const Tokenizer> tokenizer_;
  ChatTemplate template_;
  std::shared_ptr<const Specials> specials_;
  size_t max_token_bytes_ = 1;
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

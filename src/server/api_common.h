#pragma once
// What every API handler shares (chat/completions here; /v1/responses and /v1/messages may reuse it):
// JSON replies and error bodies, and moving a submitted request's engine events to the client.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "runtime/chat.h"
#include "server/http_server.h"
#include "server/openai_api.h"
#include "server/scheduler.h"

namespace g4::server {

inline constexpr const char* kFingerprint = "gemma4-cpp";

// Compact JSON; invalid UTF-8 inside strings (a token cut mid-character) becomes U+FFFD.
std::string json_text(const Json& j);
void send_json(HttpResponse& res, int status, const Json& j);
void send_error(HttpResponse& res, const ApiError& e);
// send_error in the shape of the API that the request's path belongs to (Anthropic's on /v1/messages).
void send_api_error(const HttpRequest& req, HttpResponse& res, const ApiError& e);

struct ChoiceResult {
  std::string finish_reason;  // stop, length, cancelled, error
  std::string error;
  int completion_tokens = 0;
};

struct PumpResult {
  std::string finish_reason;  // stop, length, cancelled, error, gone (the first choice's, unless one failed)
  std::string error;
  int prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;  // completion tokens of all choices
  std::vector<ChoiceResult> choices;  // by index
};

// Moves the request's events (of its n choices) to `on_event` until every choice is done. Cancels the
// request when the client goes away or on_event fails to write (returns "gone").
PumpResult pump(SeqChannel& ch, HttpResponse& res, int n, const std::function<bool(const SeqEvent&)>& on_event);
// One choice, deltas only.
PumpResult pump(SeqChannel& ch, HttpResponse& res, const std::function<bool(const AnswerStream::Delta&)>& on_delta);

// OpenAI's usage object.
Json usage_json(const PumpResult& r);

// ---- what the Responses and Messages mappings share ----

// The answer as an ordered sequence of blocks: reasoning, text and tool calls, as the Responses API
// (output items) and the Messages API (content blocks) present it. BlockSplitter turns the engine's
// deltas into calls on a BlockSink: a block opens, grows, closes; a tool call arrives whole (the output
// parser emits it once its closing marker has arrived), so it opens, gets its arguments once, closes.
// Within one delta, reasoning comes before text and text before tool calls (the order the model writes
// them in one token's worth of text).
class BlockSink {
 public:
  enum class Kind { Reasoning, Text, ToolCall };
  virtual ~BlockSink() = default;
  // Each returns false when the client is gone (the request is then cancelled).
  virtual bool open(Kind kind, const ToolCallDelta* call) = 0;  // `call` for Kind::ToolCall, else null
  virtual bool append(Kind kind, const std::string& text) = 0;  // reasoning/text grows; a call's arguments
  virtual bool close(Kind kind) = 0;
};

class BlockSplitter {
 public:
  // parallel_tool_calls false: only the first tool call is kept (as chat completions do).
  explicit BlockSplitter(bool parallel_tool_calls) : parallel_(parallel_tool_calls) {}
  bool push(const AnswerStream::Delta& d, BlockSink& sink);
  bool finish(BlockSink& sink);  // closes the open block
  int tool_calls() const { return n_calls_; }

 private:
  bool switch_to(BlockSink::Kind kind, BlockSink& sink);
  bool parallel_;
  bool open_ = false;
  BlockSink::Kind kind_ = BlockSink::Kind::Text;
  int n_calls_ = 0;
};

// Thinking as the Responses and Messages APIs promise it: with `force_open`, the answer starts with a
// thought (the tokens of "<|channel>thought\n" are forced unless the prompt already opened it, as a
// Gemma 4 model told to think writes them itself); with budget >= 0, once the thought holds `budget`
// tokens the token that closes it is forced. Null when the vocabulary lacks Gemma 4's channel tokens
// or there is nothing to do.
std::unique_ptr<TokenConstraint> make_thinking_constraint(const Tokenizer& tok, int32_t vocab_size, bool prompt_opened,
                                                          bool force_open, int64_t budget);

// A request mapped onto chat completions is validated by the chat parser, whose errors name chat
// fields: returns the error with `param`, and that name where the message quotes it ('max_tokens'),
// renamed to the client's field by `rename` (which returns its argument when it has no other name).
ApiError renamed(const ApiError& e, const std::function<std::string(const std::string&)>& rename);

// Checks on request fields (400 naming the field).
namespace field {
bool present(const Json& obj, const char* key);  // present and not null
[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "invalid_value");
[[noreturn]] void unsupported(const std::string& param, const std::string& message);
// Refuses every non-null member of `obj` (at `where`) outside `known`.
void refuse_unknown(const Json& obj, const std::string& where, std::initializer_list<const char*> known);
// A required string member.
std::string req_string(const Json& obj, const char* key, const std::string& where);
// An optional string member ("" when absent or null).
std::string opt_string(const Json& obj, const char* key, const std::string& where);
// `where.key` (or `key` when `where` is empty).
std::string path(const std::string& where, const char* key);
}  // namespace field

}  // namespace g4::server

#pragma once
// What every API handler shares (chat/completions here; /v1/responses and /v1/messages may reuse it):
// JSON replies and error bodies, and moving a submitted request's engine events to the client.
#include <functional>
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

}  // namespace g4::server

#include "server/api_common.h"

#include <chrono>
#include <vector>

namespace g4::server {

std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(HttpResponse& res, int status, const Json& j) { res.send(status, "application/json", json_text(j)); }

void send_error(HttpResponse& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.send(e.status, "application/json", error_body(e));
}

PumpResult pump(SeqChannel& ch, HttpResponse& res, const std::function<bool(const AnswerStream::Delta&)>& on_delta) {
  PumpResult r;
  std::vector<SeqEvent> events;
  auto last_check = std::chrono::steady_clock::now();
  for (;;) {
    events.clear();
    bool got = ch.wait(events, std::chrono::milliseconds(50));
    auto now = std::chrono::steady_clock::now();
    if (!got || now - last_check > std::chrono::milliseconds(100)) {
      last_check = now;
      if (res.shutting_down()) {
        // Server shutdown: a waiting request is answered 503; a stream ends with an error event and
        // [DONE] (the caller's error path), then the HTTP layer's last chunk.
        ch.cancel();
        if (!res.started()) {
          res.set_header("Retry-After", "1");
          throw ApiError(503, "the server is shutting down", "", "server_shutting_down", "server_error");
        }
        r.finish_reason = "error";
        r.error = "the server is shutting down";
        return r;
      }
      if (res.client_gone()) {
        ch.cancel();
        r.finish_reason = "gone";
        return r;
      }
    }
    if (!got) continue;
    for (SeqEvent& e : events) {
      if (!on_delta(e.delta)) {
        ch.cancel();
        r.finish_reason = "gone";
        return r;
      }
      if (e.done) {
        r.finish_reason = e.finish_reason;
        r.error = e.error;
        r.prompt_tokens = e.prompt_tokens;
        r.cached_tokens = e.cached_tokens;
        r.completion_tokens = e.completion_tokens;
        return r;
      }
    }
  }
}

Json usage_json(const PumpResult& r) {
  return Json{{"prompt_tokens", r.prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"total_tokens", r.prompt_tokens + r.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

}  // namespace g4::server

#include "server/api_common.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace g4::server {

std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(HttpResponse& res, int status, const Json& j) { res.send(status, "application/json", json_text(j)); }

void send_error(HttpResponse& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.send(e.status, "application/json", error_body(e));
}

PumpResult pump(SeqChannel& ch, HttpResponse& res, int n, const std::function<bool(const SeqEvent&)>& on_event) {
  PumpResult r;
  r.choices.resize(size_t(std::max(n, 1)));
  int open = int(r.choices.size());
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
      if (!on_event(e)) {
        ch.cancel();
        r.finish_reason = "gone";
        return r;
      }
      if (!e.done || e.index < 0 || size_t(e.index) >= r.choices.size()) continue;
      ChoiceResult& c = r.choices[size_t(e.index)];
      c.finish_reason = e.finish_reason;
      c.error = e.error;
      c.completion_tokens = e.completion_tokens;
      r.completion_tokens += e.completion_tokens;
      r.prompt_tokens = e.prompt_tokens;
      if (e.index == 0) r.cached_tokens = e.cached_tokens;
      if (e.finish_reason == "error") ch.cancel();  // the request fails: the other choices stop too
      if (--open > 0) continue;
      // Every choice is done: the request failed if one of them did.
      r.finish_reason = r.choices[0].finish_reason;
      r.error = r.choices[0].error;
      for (const ChoiceResult& x : r.choices)
        if (x.finish_reason == "error" || (x.finish_reason == "cancelled" && r.finish_reason != "error")) {
          r.finish_reason = x.finish_reason;
          r.error = x.error;
        }
      return r;
    }
  }
}

PumpResult pump(SeqChannel& ch, HttpResponse& res, const std::function<bool(const AnswerStream::Delta&)>& on_delta) {
  return pump(ch, res, 1, [&](const SeqEvent& e) { return on_delta(e.delta); });
}

Json usage_json(const PumpResult& r) {
  return Json{{"prompt_tokens", r.prompt_tokens},
              {"completion_tokens", r.completion_tokens},
              {"total_tokens", r.prompt_tokens + r.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

}  // namespace g4::server

#include "server/api_common.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "server/anthropic_api.h"

namespace g4::server {

std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(HttpResponse& res, int status, const Json& j) { res.send(status, "application/json", json_text(j)); }

void send_error(HttpResponse& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.send(e.status, "application/json", error_body(e));
}

void send_api_error(const HttpRequest& req, HttpResponse& res, const ApiError& e) {
  if (!is_anthropic_path(req.path)) return send_error(res, e);
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.send(e.status, "application/json", anthropic_error_body(e));
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

bool BlockSplitter::switch_to(BlockSink::Kind kind, BlockSink& sink) {
  if (open_ && kind_ == kind) return true;
  if (open_ && !sink.close(kind_)) return false;
  open_ = true;
  kind_ = kind;
  return sink.open(kind, nullptr);
}

bool BlockSplitter::push(const AnswerStream::Delta& d, BlockSink& sink) {
  using Kind = BlockSink::Kind;
  if (!d.reasoning.empty() && !(switch_to(Kind::Reasoning, sink) && sink.append(Kind::Reasoning, d.reasoning))) return false;
  if (!d.content.empty() && !(switch_to(Kind::Text, sink) && sink.append(Kind::Text, d.content))) return false;
  for (const ToolCallDelta& tc : d.tool_calls) {
    if (!parallel_ && n_calls_ > 0) break;
    ++n_calls_;
    if (!finish(sink)) return false;
    if (!sink.open(Kind::ToolCall, &tc) || !sink.append(Kind::ToolCall, tc.arguments_json) || !sink.close(Kind::ToolCall)) return false;
  }
  return true;
}

bool BlockSplitter::finish(BlockSink& sink) {
  if (!open_) return true;
  open_ = false;
  return sink.close(kind_);
}

namespace {

class ThinkingControl final : public TokenConstraint {
 public:
  ThinkingControl(std::vector<int32_t> opening, int32_t open_id, int32_t close_id, int64_t budget, int32_t vocab, bool in_thought)
      : opening_(std::move(opening)), open_(open_id), close_(close_id), budget_(budget), vocab_(vocab), in_thought_(in_thought) {}

  bool allowed(std::vector<uint8_t>& mask) override {
    if (next_ < opening_.size()) return only(opening_[next_], mask);
    if (budget_ >= 0 && in_thought_ && used_ >= budget_) return only(close_, mask);
    return false;
  }
  void accept(int32_t token) override {
    if (next_ < opening_.size()) {
      if (++next_ == opening_.size()) in_thought_ = true;
    } else if (token == open_) {
      in_thought_ = true;  // another thought: the budget covers all of them
    } else if (token == close_) {
      in_thought_ = false;
    } else if (in_thought_) {
      ++used_;
    }
  }

 private:
  bool only(int32_t id, std::vector<uint8_t>& mask) const {
    mask.assign(size_t(vocab_), 0);
    mask[size_t(id)] = 1;
    return true;
  }
  std::vector<int32_t> opening_;
  size_t next_ = 0;
  int32_t open_, close_;
  int64_t budget_, used_ = 0;
  int32_t vocab_;
  bool in_thought_;
};

}  // namespace

std::unique_ptr<TokenConstraint> make_thinking_constraint(const Tokenizer& tok, int32_t vocab_size, bool prompt_opened,
                                                          bool force_open, int64_t budget) {
  const auto open = tok.find_token(gemma4::kChannelOpen), close = tok.find_token(gemma4::kChannelClose);
  if (!open || !close || *open >= vocab_size || *close >= vocab_size) return nullptr;
  std::vector<int32_t> opening;
  if (force_open && !prompt_opened) opening = tok.encode(gemma4::kThoughtChannel, /*parse_special=*/true);
  for (int32_t id : opening)
    if (id < 0 || id >= vocab_size) return nullptr;
  if (opening.empty() && budget < 0) return nullptr;
  return std::make_unique<ThinkingControl>(std::move(opening), *open, *close, budget, vocab_size, prompt_opened);
}

ApiError renamed(const ApiError& e, const std::function<std::string(const std::string&)>& rename) {
  const std::string to = e.param.empty() ? e.param : rename(e.param);
  if (to == e.param) return e;
  std::string message = e.what();
  const std::string from_q = "'" + e.param + "'", to_q = "'" + to + "'";
  for (size_t at = message.find(from_q); at != std::string::npos; at = message.find(from_q, at + to_q.size()))
    message.replace(at, from_q.size(), to_q);
  return ApiError(e.status, message, to, e.code, e.type);
}

namespace field {

bool present(const Json& obj, const char* key) { return obj.is_object() && obj.contains(key) && !obj.at(key).is_null(); }

void bad(const std::string& param, const std::string& message, const std::string& code) {
  throw ApiError(400, message, param, code);
}

void unsupported(const std::string& param, const std::string& message) { bad(param, message, "unsupported_parameter"); }

std::string path(const std::string& where, const char* key) { return where.empty() ? std::string(key) : where + "." + key; }

void refuse_unknown(const Json& obj, const std::string& where, std::initializer_list<const char*> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.value().is_null()) continue;
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (ok) continue;
    const std::string p = path(where, it.key().c_str());
    unsupported(p, where.empty() ? "Unrecognized request argument supplied: " + it.key() : "Unrecognized argument '" + p + "'");
  }
}

std::string req_string(const Json& obj, const char* key, const std::string& where) {
  if (!present(obj, key)) bad(path(where, key), "'" + path(where, key) + "' is required", "missing_required_parameter");
  return opt_string(obj, key, where);
}

std::string opt_string(const Json& obj, const char* key, const std::string& where) {
  if (!present(obj, key)) return "";
  const Json& v = obj.at(key);
  if (!v.is_string()) bad(path(where, key), "'" + path(where, key) + "' must be a string", "invalid_type");
  return v.get<std::string>();
}

}  // namespace field

}  // namespace g4::server

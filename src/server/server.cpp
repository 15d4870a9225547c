#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace g4::server {

namespace {

constexpr const char* kFingerprint = "gemma4-cpp";

std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(HttpResponse& res, int status, const Json& j) { res.send(status, "application/json", json_text(j)); }

void send_error(HttpResponse& res, const ApiError& e) {
  if (e.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.send(e.status, "application/json", error_body(e));
}

struct PumpResult {
  std::string finish_reason;  // stop, length, cancelled, error, gone
  std::string error;
  int prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
};

// Moves the sequence's events to `on_delta` until it is done. Cancels the sequence when the client
// goes away or on_delta fails to write.
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

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string known_path(const std::string& p) {
  static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"};
  for (const char* k : known)
    if (p == k) return p;
  if (p.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

}  // namespace

ApiServer::ApiServer(std::shared_ptr<const Model> model, std::shared_ptr<const ChatFormat> chat, ServerOptions options)
    : model_(std::move(model)), chat_(std::move(chat)), opt_(std::move(options)) {
  ctokens_ = std::make_shared<ConstraintTokens>(chat_->tokenizer_ptr());
  scheduler_ = std::make_unique<Scheduler>(*model_, chat_->tokenizer_ptr(), opt_.scheduler);
  created_ = int64_t(std::time(nullptr));
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  HttpServerOptions h;
  h.host = opt_.host;
  h.port = opt_.port;
  http_ = std::make_unique<HttpServer>(h, [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); });
  http_->start();
  // Build the constraint vocabulary now, not inside the first constrained request.
  std::thread([t = ctokens_] { t->vocab(); }).detach();
}

void ApiServer::stop() {
  if (http_) http_->stop();
  if (scheduler_) scheduler_->stop();
}

std::vector<int32_t> ApiServer::eog_ids() const {
  std::vector<int32_t> ids = gemma4_eog_ids();
  for (int32_t id : chat_->tokenizer().eog_ids()) ids.push_back(id);
  for (int id : model_->config().eog_ids) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  ids.erase(std::remove_if(ids.begin(), ids.end(), [&](int32_t id) { return id < 0 || id >= model_->config().vocab_size; }), ids.end());
  return ids;
}

void ApiServer::count(const std::string& path, int status) {
  std::lock_guard<std::mutex> lk(metrics_mu_);
  ++requests_[{known_path(path), status}];
}

void ApiServer::handle(const HttpRequest& req, HttpResponse& res) {
  auto t0 = std::chrono::steady_clock::now();
  res.set_header("Access-Control-Allow-Origin", "*");
  try {
    route(req, res);
  } catch (const ApiError& e) {
    if (!res.started()) send_error(res, e);
  } catch (const std::exception& e) {
    if (!res.started()) send_error(res, ApiError(500, std::string("internal error: ") + e.what(), "", "internal_error"));
  }
  if (!res.started()) send_error(res, ApiError(500, "no response", "", "internal_error"));
  count(req.path, res.status());
  if (opt_.log_requests) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s %s %s -> %d (%.0f ms)\n", req.remote.c_str(), req.method.c_str(), req.path.c_str(), res.status(), ms);
  }
}

void ApiServer::check_model(const std::string& model) const {
  if (model.empty() || model == opt_.model_id) return;
  throw ApiError(404, "The model '" + model + "' does not exist (this server serves '" + opt_.model_id + "')", "model",
                 "model_not_found");
}

void ApiServer::route(const HttpRequest& req, HttpResponse& res) {
  const std::string& p = req.path;
  if (req.method == "OPTIONS") {
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.send(204, "", "");
    return;
  }
  const bool get = req.method == "GET" || req.method == "HEAD";
  const bool post = req.method == "POST";
  auto wrong_method = [&](const char* allowed) {
    res.set_header("Allow", allowed);
    throw ApiError(405, "Method " + req.method + " is not allowed on " + p, "", "method_not_allowed");
  };
  if (p == "/health" || p == "/v1/health") {
    if (!get) wrong_method("GET");
    SchedulerStats s = scheduler_->stats();
    send_json(res, 200, {{"status", "ok"}, {"slots_busy", s.slots_busy}, {"slots_total", s.slots_total}, {"queued", s.queued}});
    return;
  }
  if (p == "/metrics") {
    if (!get) wrong_method("GET");
    res.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics_text());
    return;
  }
  const bool api = p.rfind("/v1/", 0) == 0;
  const bool known = p == "/v1/chat/completions" || p == "/v1/completions" || p == "/v1/models" || p.rfind("/v1/models/", 0) == 0;
  if (!known) throw ApiError(404, "Invalid URL (" + req.method + " " + p + ")", "", "not_found");
  if (api && !opt_.api_key.empty()) {
    std::string auth = req.header("authorization");
    std::string key;
    if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) key = auth.substr(7);
    if (key.empty()) key = req.header("x-api-key");
    if (key.empty()) throw ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'", "", "missing_api_key");
    // Compare in constant time.
    unsigned char diff = key.size() == opt_.api_key.size() ? 0 : 1;
    for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(key[i] ^ opt_.api_key[i % opt_.api_key.size()]);
    if (diff) throw ApiError(401, "Incorrect API key provided", "", "invalid_api_key");
  }
  if (p == "/v1/models") {
    if (!get) wrong_method("GET");
    send_json(res, 200,
              {{"object", "list"},
               {"data", Json::array({{{"id", opt_.model_id}, {"object", "model"}, {"created", created_}, {"owned_by", "gemma4"},
                                      {"meta", {{"n_ctx", opt_.scheduler.ctx}, {"n_vocab", model_->config().vocab_size}}}}})}});
    return;
  }
  if (p.rfind("/v1/models/", 0) == 0) {
    if (!get) wrong_method("GET");
    std::string id = p.substr(11);
    if (id != opt_.model_id)
      throw ApiError(404, "The model '" + id + "' does not exist", "model", "model_not_found");
    send_json(res, 200, {{"id", opt_.model_id}, {"object", "model"}, {"created", created_}, {"owned_by", "gemma4"}});
    return;
  }
  if (!post) wrong_method("POST");
  if (p == "/v1/chat/completions") chat_completions(req, res);
  else completions(req, res);
}

static Json parse_body(const HttpRequest& req) {
  if (req.body.empty()) throw ApiError(400, "the request body is empty; send a JSON object", "", "invalid_json");
  try {
    return Json::parse(req.body);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
}

void ApiServer::chat_completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_body(req);
  ParseContext pc{opt_.defaults, opt_.fixed_seed, opt_.default_max_tokens, model_->config().vocab_size};
  ChatRequest cr = parse_chat_request(body, pc);
  check_model(cr.model);

  const Tokenizer& tok = chat_->tokenizer();
  ChatOptions co;
  co.enable_thinking = cr.enable_thinking;
  co.extra_context = cr.template_kwargs;
  std::vector<int32_t> prompt;
  try {
    std::lock_guard<std::mutex> lk(render_mu_);
    prompt = chat_->prompt_ids(cr.messages, cr.tools, co);
  } catch (const Error& e) {
    throw ApiError(400, std::string("cannot format the messages with the chat template: ") + e.what(), "messages");
  }
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(opt_.scheduler.ctx) + " tokens, but the messages take " +
                       std::to_string(prompt.size()) + " tokens. Shorten the messages or start the server with a larger --ctx.",
                   "messages", "context_length_exceeded");

  SeqRequest sr;
  sr.prompt = prompt;
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  {
    size_t k = std::min<size_t>(prompt.size(), 4);
    std::vector<int32_t> tail(prompt.end() - long(k), prompt.end());
    sr.start_in_reasoning = ends_with(tok.decode(tail), "<|channel>thought\n");
  }
  const bool forced_tool = cr.tool_choice == ToolChoice::Required || cr.tool_choice == ToolChoice::Named;
  try {
    if (forced_tool) {
      std::vector<ForcedTool> ft;
      for (const Json& t : cr.tools) {
        std::string name = t["function"]["name"].get<std::string>();
        if (cr.tool_choice == ToolChoice::Named && name != cr.tool_name) continue;
        ft.push_back({name, tool_arguments_constraint(t["function"]["parameters"])});
      }
      sr.constraint = make_tool_call_constraint(ctokens_, std::move(ft));
      sr.start_in_reasoning = false;
    } else if (cr.json) {
      sr.constraint = make_json_constraint(ctokens_, std::move(cr.json), sr.stop.eog_ids);
      sr.start_in_reasoning = false;
    }
    if (cr.tool_choice == ToolChoice::None || cr.tools.empty()) {
      if (auto id = tok.find_token("<|tool_call>")) {
        if (!forced_tool) sr.sampling.logit_bias[*id] = -std::numeric_limits<float>::infinity();
      }
    }
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "tool_choice");
  }

  std::shared_ptr<SeqChannel> ch;
  try {
    ch = scheduler_->submit(std::move(sr));
  } catch (const QueueFull& e) {
    ++rejected_busy_;
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), "", "server_busy", "server_overloaded");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }

  const std::string id = random_id("chatcmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  const std::string model = opt_.model_id;
  int n_calls = 0;
  auto tool_call_json = [&](const ToolCallDelta& tc) {
    ++n_calls;
    return Json{{"index", tc.index},
                {"id", random_id("call_")},
                {"type", "function"},
                {"function", {{"name", tc.name}, {"arguments", tc.arguments_json}}}};
  };
  auto finish_reason = [&](const PumpResult& r) -> std::string {
    if (r.finish_reason == "stop" && n_calls > 0) return "tool_calls";
    return r.finish_reason;
  };

  if (cr.stream) {
    auto chunk = [&](Json delta, Json finish) {
      return Json{{"id", id},
                  {"object", "chat.completion.chunk"},
                  {"created", created},
                  {"model", model},
                  {"system_fingerprint", kFingerprint},
                  {"choices", Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}})}};
    };
    if (!res.start_stream(200, "text/event-stream")) {
      ch->cancel();
      return;
    }
    if (!res.write(sse_data(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)))) {
      ch->cancel();
      return;
    }
    PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
      Json delta = Json::object();
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      if (!d.content.empty()) delta["content"] = d.content;
      if (!d.tool_calls.empty()) {
        Json calls = Json::array();
        for (const ToolCallDelta& tc : d.tool_calls) calls.push_back(tool_call_json(tc));
        delta["tool_calls"] = calls;
      }
      if (delta.empty()) return true;
      return res.write(sse_data(chunk(delta, nullptr)));
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      res.write(sse_data({{"error", {{"message", r.error}, {"type", "server_error"}, {"param", nullptr}, {"code", "generation_failed"}}}}));
      res.write("data: [DONE]\n\n");
      return;
    }
    res.write(sse_data(chunk(Json::object(), finish_reason(r))));
    if (cr.include_usage) {
      Json u = chunk(Json::object(), nullptr);
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
    return;
  }

  std::string content, reasoning;
  Json calls = Json::array();
  PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
    content += d.content;
    reasoning += d.reasoning;
    for (const ToolCallDelta& tc : d.tool_calls) calls.push_back(tool_call_json(tc));
    return true;
  });
  if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
    res.send(499, "application/json", "{}");
    return;
  }
  if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
  for (Json& c : calls) c.erase("index");
  Json msg = {{"role", "assistant"}, {"content", content}};
  if (!calls.empty()) {
    msg["tool_calls"] = calls;
    if (content.empty()) msg["content"] = nullptr;
  }
  if (!reasoning.empty()) msg["reasoning_content"] = reasoning;
  send_json(res, 200,
            {{"id", id},
             {"object", "chat.completion"},
             {"created", created},
             {"model", model},
             {"system_fingerprint", kFingerprint},
             {"choices", Json::array({{{"index", 0}, {"message", msg}, {"logprobs", nullptr}, {"finish_reason", finish_reason(r)}}})},
             {"usage", usage_json(r)}});
}

void ApiServer::completions(const HttpRequest& req, HttpResponse& res) {
  Json body = parse_body(req);
  ParseContext pc{opt_.defaults, opt_.fixed_seed, opt_.default_max_tokens, model_->config().vocab_size};
  CompletionRequest cr = parse_completion_request(body, pc);
  check_model(cr.model);
  const Tokenizer& tok = chat_->tokenizer();
  std::vector<int32_t> prompt = cr.has_ids ? cr.prompt_ids : tok.encode(cr.prompt, /*parse_special=*/true, /*add_bos=*/true);
  if (prompt.empty()) throw ApiError(400, "the prompt is empty", "prompt");
  if (int64_t(prompt.size()) >= opt_.scheduler.ctx)
    throw ApiError(400,
                   "This model's maximum context length is " + std::to_string(opt_.scheduler.ctx) + " tokens, but the prompt has " +
                       std::to_string(prompt.size()) + " tokens.",
                   "prompt", "context_length_exceeded");
  SeqRequest sr;
  sr.prompt = prompt;
  sr.sampling = cr.sampling;
  sr.stop.eog_ids = eog_ids();
  sr.stop.stop_strings = cr.stop;
  sr.stop.max_tokens = cr.max_tokens;
  std::shared_ptr<SeqChannel> ch;
  try {
    ch = scheduler_->submit(std::move(sr));
  } catch (const QueueFull& e) {
    ++rejected_busy_;
    res.set_header("Retry-After", "1");
    throw ApiError(503, e.what(), "", "server_busy", "server_overloaded");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  const std::string id = random_id("cmpl-");
  const int64_t created = int64_t(std::time(nullptr));
  std::string echo;
  if (cr.echo) echo = cr.has_ids ? tok.decode(cr.prompt_ids) : cr.prompt;
  auto choice = [&](const std::string& text, Json finish) {
    return Json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", opt_.model_id},
                {"system_fingerprint", kFingerprint},
                {"choices", Json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}}})}};
  };
  if (cr.stream) {
    if (!res.start_stream(200, "text/event-stream")) {
      ch->cancel();
      return;
    }
    if (!echo.empty() && !res.write(sse_data(choice(echo, nullptr)))) {
      ch->cancel();
      return;
    }
    PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
      if (d.text.empty()) return true;
      return res.write(sse_data(choice(d.text, nullptr)));
    });
    if (r.finish_reason == "gone" || r.finish_reason == "cancelled") return;
    if (r.finish_reason == "error") {
      res.write(sse_data({{"error", {{"message", r.error}, {"type", "server_error"}, {"param", nullptr}, {"code", "generation_failed"}}}}));
      res.write("data: [DONE]\n\n");
      return;
    }
    res.write(sse_data(choice("", r.finish_reason)));
    if (cr.include_usage) {
      Json u = choice("", nullptr);
      u["choices"] = Json::array();
      u["usage"] = usage_json(r);
      res.write(sse_data(u));
    }
    res.write("data: [DONE]\n\n");
    return;
  }
  std::string text = echo;
  PumpResult r = pump(*ch, res, [&](const AnswerStream::Delta& d) {
    text += d.text;
    return true;
  });
  if (r.finish_reason == "gone" || r.finish_reason == "cancelled") {
    res.send(499, "application/json", "{}");
    return;
  }
  if (r.finish_reason == "error") throw ApiError(500, "generation failed: " + r.error, "", "generation_failed", "server_error");
  Json out = choice(text, r.finish_reason);
  out["usage"] = usage_json(r);
  send_json(res, 200, out);
}

std::string ApiServer::metrics_text() const {
  SchedulerStats s = scheduler_->stats();
  std::ostringstream o;
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
  };
  o << "# HELP g4_requests_total HTTP requests by path and status code.\n# TYPE g4_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lk(metrics_mu_);
    for (auto& [k, n] : requests_) o << "g4_requests_total{path=\"" << k.first << "\",status=\"" << k.second << "\"} " << n << '\n';
  }
  o << "# HELP g4_sequences_total Generation sequences by how they ended.\n# TYPE g4_sequences_total counter\n";
  o << "g4_sequences_total{result=\"finished\"} " << s.requests_finished << '\n';
  o << "g4_sequences_total{result=\"cancelled\"} " << s.requests_cancelled << '\n';
  o << "g4_sequences_total{result=\"failed\"} " << s.requests_failed << '\n';
  metric("g4_requests_rejected_total", "counter", "Requests refused with 503 because the queue was full.", double(rejected_busy_.load()));
  metric("g4_prompt_tokens_total", "counter", "Prompt tokens of admitted requests (tokens in).", double(s.prompt_tokens));
  metric("g4_prompt_tokens_cached_total", "counter", "Prompt tokens reused from the prefix cache.", double(s.prompt_tokens_cached));
  metric("g4_prompt_tokens_computed_total", "counter", "Prompt tokens run through the model.", double(s.prompt_tokens_computed));
  metric("g4_generation_tokens_total", "counter", "Generated tokens (tokens out).", double(s.generated_tokens));
  metric("g4_forward_passes_total", "counter", "Forward passes run.", double(s.forward_passes));
  metric("g4_batch_tokens_total", "counter", "Tokens through forward passes.", double(s.batch_tokens));
  metric("g4_engine_busy_seconds_total", "counter", "Time the engine spent in steps.", s.busy_seconds);
  metric("g4_queue_depth", "gauge", "Requests waiting for a slot.", double(s.queued));
  metric("g4_running_sequences", "gauge", "Sequences prefilling or generating.", double(s.running));
  metric("g4_generation_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", s.generation_tokens_per_second);
  metric("g4_prompt_tokens_per_second", "gauge", "Computed prompt tokens per second over the last 10 s.", s.prompt_tokens_per_second);
  metric("g4_kv_cache_tokens", "gauge", "Tokens held in KV slots (running and cached prefixes).", double(s.kv_tokens_used));
  metric("g4_kv_cache_capacity_tokens", "gauge", "KV slots times context size.", double(s.kv_tokens_capacity));
  metric("g4_kv_cache_usage_ratio", "gauge", "kv_cache_tokens / kv_cache_capacity_tokens.",
         s.kv_tokens_capacity > 0 ? double(s.kv_tokens_used) / double(s.kv_tokens_capacity) : 0.0);
  metric("g4_kv_cache_bytes", "gauge", "Bytes allocated for KV caches.", double(s.kv_bytes));
  metric("g4_kv_slots_busy", "gauge", "KV slots in use.", double(s.slots_busy));
  metric("g4_kv_slots_total", "gauge", "KV slots (--parallel).", double(s.slots_total));
  metric("g4_http_connections", "gauge", "Open HTTP connections.", double(http_ ? http_->active_connections() : 0));
  return o.str();
}

}  // namespace g4::server

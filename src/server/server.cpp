#include "server/server.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "server/api_common.h"
#include "server/web_assets.h"

namespace g4::server {

namespace {

// True for "application/json" with optional parameters (a charset must be UTF-8, as JSON is).
bool is_json_media_type(const std::string& content_type) {
  auto lower_trim = [](std::string v) {
    for (char& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
    size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  };
  size_t semi = content_type.find(';');
  if (lower_trim(content_type.substr(0, semi)) != "application/json") return false;
  while (semi != std::string::npos) {
    size_t next = content_type.find(';', semi + 1);
    std::string param = lower_trim(content_type.substr(semi + 1, next == std::string::npos ? std::string::npos : next - semi - 1));
    semi = next;
    if (param.rfind("charset=", 0) != 0) continue;
    std::string cs = param.substr(8);
    if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
    if (cs != "utf-8" && cs != "utf8") return false;
  }
  return true;
}

std::string known_path(const std::string& p) {
  static const char* known[] = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics",
                                "/tokenize", "/detokenize", "/props", "/v1/responses", "/v1/messages",
                                "/v1/messages/count_tokens"};
  for (const char* k : known)
    if (p == k) return p;
  if (p.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  if (find_web_file(p)) return p;
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
  // A generating request holds a handler thread while it waits for tokens: enough threads for every KV
  // slot and queue place, and some for quick requests (/health, /metrics) besides.
  h.workers = std::clamp(opt_.scheduler.parallel + opt_.scheduler.max_queue + 8, 16, 1024);
  http_ = std::make_unique<HttpServer>(h, [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); });
  http_->start();
  // Build the constraint vocabulary now, not inside the first constrained request.
  warmup_ = std::thread([t = ctokens_] { t->vocab(); });
}

void ApiServer::stop() {
  if (http_) http_->stop();  // open streams end, waiting requests get 503, every HTTP thread is joined
  if (scheduler_) scheduler_->stop();
  if (warmup_.joinable()) warmup_.join();
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
  try {
    if (!cors(req, res)) route(req, res);
  } catch (const ApiError& e) {
    if (!res.started()) send_api_error(req, res, e);
  } catch (const std::exception& e) {
    if (!res.started()) send_api_error(req, res, ApiError(500, std::string("internal error: ") + e.what(), "", "internal_error"));
  }
  if (!res.started()) send_api_error(req, res, ApiError(500, "no response", "", "internal_error"));
  count(req.path, res.status());
  if (opt_.log_requests) {
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%s %s %s -> %d (%.0f ms)\n", req.remote.c_str(), req.method.c_str(), req.path.c_str(), res.status(), ms);
  }
}

// One model is served, so every model name means it (clients often send a fixed name such as "gpt-4");
// responses name the real one.
void ApiServer::check_model(const std::string&) const {}

// CORS is off unless --cors: then responses carry Access-Control-Allow-Origin (and Vary: Origin) and
// preflight requests are answered here. Returns true when the request (an OPTIONS) is answered.
bool ApiServer::cors(const HttpRequest& req, HttpResponse& res) const {
  const std::string origin = req.header("origin");
  bool allowed = false;
  if (!opt_.cors_origin.empty()) {
    res.set_header("Vary", "Origin");
    if (opt_.cors_origin == "*" || origin == opt_.cors_origin) {
      res.set_header("Access-Control-Allow-Origin", opt_.cors_origin == "*" ? "*" : origin);
      allowed = true;
    }
  }
  if (req.method != "OPTIONS") return false;
  const std::string method = req.header("access-control-request-method");
  if (!opt_.cors_origin.empty() && !origin.empty() && !method.empty()) {
    if (!allowed) throw ApiError(403, "CORS: the origin '" + origin + "' is not allowed (see --cors)", "", "cors_origin_not_allowed");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const std::string headers = req.header("access-control-request-headers");
    res.set_header("Access-Control-Allow-Headers", headers.empty() ? "Authorization, Content-Type" : headers);
    res.set_header("Access-Control-Max-Age", "600");
  } else {
    res.set_header("Allow", "GET, POST, OPTIONS");
  }
  res.send(204, "", "");
  return true;
}

void ApiServer::route(const HttpRequest& req, HttpResponse& res) {
  const std::string& p = req.path;
  if (req.method == "POST" && !is_json_media_type(req.header("content-type")))
    throw ApiError(415, "POST bodies must be sent as 'Content-Type: application/json' (got '" + req.header("content-type") + "')",
                   "", "unsupported_media_type");
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
  if (opt_.webui) {
    if (const EmbeddedFile* f = find_web_file(p)) {
      if (!get) wrong_method("GET");
      send_web_file(*f, res);
      return;
    }
  }
  const bool llama = p == "/tokenize" || p == "/detokenize" || p == "/props";  // llama-server's endpoints
  const bool api = p.rfind("/v1/", 0) == 0 || llama;
  const bool known = p == "/v1/chat/completions" || p == "/v1/completions" || p == "/v1/models" || p.rfind("/v1/models/", 0) == 0 ||
                     p == "/v1/responses" || p == "/v1/messages" || p == "/v1/messages/count_tokens" || llama;
  if (!known) throw ApiError(404, "Invalid URL (" + req.method + " " + p + ")", "", "not_found");
  if (api && !opt_.api_key.empty()) {
    std::string auth = req.header("authorization");
    std::string key;
    if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) key = auth.substr(7);
    if (key.empty()) key = req.header("x-api-key");
    if (key.empty()) throw ApiError(401, "Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'", "", "missing_api_key");
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
    // Any id names the served model (see check_model).
    send_json(res, 200, {{"id", opt_.model_id}, {"object", "model"}, {"created", created_}, {"owned_by", "gemma4"}});
    return;
  }
  if (p == "/props") {
    if (!get) wrong_method("GET");
    props(req, res);
    return;
  }
  if (!post) wrong_method("POST");
  if (p == "/v1/chat/completions") chat_completions(req, res);
  else if (p == "/v1/responses") responses(req, res);
  else if (p == "/v1/messages") messages(req, res);
  else if (p == "/v1/messages/count_tokens") count_tokens(req, res);
  else if (p == "/tokenize") tokenize(req, res);
  else if (p == "/detokenize") detokenize(req, res);
  else completions(req, res);
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
  metric("g4_draft_tokens_total", "counter", "Tokens proposed by the drafter and verified (--draft).", double(s.drafted_tokens));
  metric("g4_draft_accepted_tokens_total", "counter", "Drafted tokens the target kept.", double(s.accepted_tokens));
  metric("g4_draft_acceptance_ratio", "gauge", "draft_accepted_tokens_total / draft_tokens_total.",
         s.drafted_tokens > 0 ? double(s.accepted_tokens) / double(s.drafted_tokens) : 0.0);
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

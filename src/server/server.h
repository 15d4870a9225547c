#pragma once
// The OpenAI-compatible API server: routes HTTP requests to the scheduler.
//
//   POST /v1/chat/completions   chat (streaming, tools, reasoning, response_format, logprobs, n)
//   POST /v1/completions        raw text completion (logprobs, n, echo)
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/responses          OpenAI's Responses API (responses_api.h)
//   POST /v1/messages           Anthropic's Messages API, and /v1/messages/count_tokens (anthropic_api.h)
//   POST /tokenize, /detokenize, GET /props   as llama-server has them
//   GET  /health                liveness (no key needed)
//   GET  /metrics               Prometheus text (no key needed)
//   GET  /, /app.js, ...        the chat page (web_assets.h; no key needed: it asks for one)
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "model/model.h"
#include "runtime/chat.h"
#include "server/constraints.h"
#include "server/http_server.h"
#include "server/openai_api.h"
#include "server/media_parts.h"
#include "server/scheduler.h"

namespace g4::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;              // empty: no authentication
  std::string model_id;             // the name /v1/models reports (requests may name any model)
  std::string model_path;           // reported by /props
  SchedulerOptions scheduler;
  SamplingParams defaults;          // sampling when a request does not say
  bool fixed_seed = false;
  int64_t default_max_tokens = -1;  // chat default (< 0: until the context is full)
  bool log_requests = true;
  // CORS: empty (the default) sends no CORS headers at all; "*" or one exact origin
  // ("https://app.example") answers preflight requests and adds Access-Control-Allow-Origin.
  std::string cors_origin;
  bool webui = true;  // serve the chat page at "/"
  ServerMediaOptions media;         // image/audio content parts: sources, limits, image token budget
};

class ApiServer {
 public:
  ApiServer(std::shared_ptr<const Model> model, std::shared_ptr<const ChatFormat> chat, ServerOptions options);
  ~ApiServer();

  void start();  // binds; throws g4::Error when it cannot
  void stop();
  int port() const { return http_ ? http_->port() : 0; }
  const ServerOptions& options() const { return opt_; }
  std::string metrics_text() const;

 private:
  void handle(const HttpRequest& req, HttpResponse& res);
  bool cors(const HttpRequest& req, HttpResponse& res) const;
  void route(const HttpRequest& req, HttpResponse& res);
  void chat_completions(const HttpRequest& req, HttpResponse& res);
  void completions(const HttpRequest& req, HttpResponse& res);
  void tokenize(const HttpRequest& req, HttpResponse& res);
  void detokenize(const HttpRequest& req, HttpResponse& res);
  void props(const HttpRequest& req, HttpResponse& res);
  void responses(const HttpRequest& req, HttpResponse& res);     // responses_api.cpp
  void messages(const HttpRequest& req, HttpResponse& res);      // anthropic_api.cpp
  void count_tokens(const HttpRequest& req, HttpResponse& res);  // anthropic_api.cpp

  // ---- shared by the generation endpoints (server_generate.cpp, and /v1/responses, /v1/messages) ----
  ParseContext parse_context() const;
  // The engine request for a chat request: the prompt rendered and tokenized (no lock: ChatFormat is
  // safe for concurrent use; a prompt that cannot fit the context is refused before it is tokenized
  // whole), stop conditions, reasoning start, constraints for forced tool calls / response_format (one
  // per choice), logprobs and n. Throws ApiError.
  SeqRequest chat_request(ChatRequest& cr) const;
  // Queues the request: QueueFull -> 503 (Retry-After), an invalid request -> 400.
  std::shared_ptr<SeqChannel> submit(SeqRequest sr, HttpResponse& res);
  [[noreturn]] void context_exceeded(int64_t min_tokens, const std::string& param, bool at_least) const;
  void check_model(const std::string& model) const;
  std::vector<int32_t> eog_ids() const;
  void count(const std::string& path, int status);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const ChatFormat> chat_;
  ServerOptions opt_;
  std::shared_ptr<const ConstraintTokens> ctokens_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<HttpServer> http_;
  std::thread warmup_;  // builds the constraint vocabulary in the background; joined by stop()
  mutable std::mutex metrics_mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (path, status) -> count
  std::atomic<int64_t> rejected_busy_{0};
  int64_t created_ = 0;
};

}  // namespace g4::server

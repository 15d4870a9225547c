#pragma once
// A small HTTP/1.1 server on POSIX sockets: one thread per connection, keep-alive, request bodies by
// Content-Length or chunked encoding (with "Expect: 100-continue"), plain responses with
// Content-Length and streamed responses with chunked encoding (server-sent events). A handler can ask
// whether the client has gone away (closed or reset its connection) while it waits for work, so a
// long generation can be cancelled. No TLS: bind to loopback or put a proxy in front.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace g4::server {

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: "/v1/models?x=1"
  std::string path;     // target without the query
  std::string query;    // after '?', raw
  std::string version;  // "HTTP/1.1"
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "
  std::string body;
  std::string remote;   // "ip:port"

  // The header's value or "" (name in lower case).
  std::string header(const std::string& name) const;
};

class HttpResponse {
 public:
  // Adds a header to the next response head (not Content-Length / Transfer-Encoding / Connection).
  void set_header(const std::string& name, const std::string& value);
  // A complete response. Returns false when the client is gone.
  bool send(int status, const std::string& content_type, std::string_view body);
  // Starts a chunked response; then write() each piece and end() it.
  bool start_stream(int status, const std::string& content_type);
  bool write(std::string_view data);
  bool end();

  bool started() const { return started_; }
  bool streaming() const { return streaming_; }
  bool failed() const { return failed_; }
  int status() const { return status_; }
  // True when the client closed or reset the connection (checked without blocking).
  bool client_gone() const;

 private:
  friend class HttpServer;
  HttpResponse(int fd, bool head_only, bool keep_alive) : fd_(fd), head_only_(head_only), keep_alive_(keep_alive) {}
  bool send_all(std::string_view data);
  std::string head(int status, const std::string& content_type, const std::string& framing);

  int fd_;
  bool head_only_;
  bool keep_alive_;
  bool started_ = false, streaming_ = false, ended_ = false, failed_ = false;
  int status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: pick a free port (see HttpServer::port())
  size_t max_body_bytes = 32u << 20;  // larger bodies get 413
  size_t max_header_bytes = 64u << 10;
  int max_connections = 512;          // more concurrent connections get 503 and are closed
  int idle_timeout_s = 30;            // keep-alive connections idle this long are closed
  int read_timeout_s = 30;            // a request that stalls this long mid-way is dropped
};

const char* http_status_text(int status);

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting on a background thread. Throws g4::Error when the address cannot be
  // bound (message names host and port).
  void start();
  // Stops accepting, closes idle connections and waits (up to `grace_ms`) for running handlers.
  void stop(int grace_ms = 5000);
  int port() const { return port_; }
  int active_connections() const { return active_.load(); }

 private:
  void accept_loop();
  void serve_connection(int fd, std::string remote);

  HttpServerOptions opt_;
  HttpHandler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> active_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> open_fds_;
};

}  // namespace g4::server

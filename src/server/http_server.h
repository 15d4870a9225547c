#pragma once
// The HTTP/1.1 server under the API: Boost.Beast parses requests (http_parser.h adds the strict RFC 9112
// checks), Boost.Asio runs every socket asynchronously on one I/O thread, and a bounded pool of worker
// threads runs the handlers, which may block (a generation streams tokens for minutes).
//
// Why Beast/Asio rather than libmicrohttpd: both are maintained Debian packages, but Beast is
// header-only (no new shared library at run time), gives us its parser as a plain object that we can
// feed bytes and fuzz without sockets, and leaves the connection policy to us: one deadline for a whole
// request, eviction of idle and slow connections at the cap instead of refusing new clients, streaming
// from a blocking handler with a disconnect check. libmicrohttpd's thread models either tie one thread
// to each connection or suspend/resume connections around blocking handlers, and its connection limit
// refuses new clients when idle ones hold the slots.
//
// Behaviour: keep-alive and pipelining (requests answered in order, one at a time per connection),
// "Expect: 100-continue", HEAD, chunked request bodies, responses with Content-Length or streamed with
// chunked encoding (server-sent events). A handler can ask whether the client has gone away while it
// waits for work, so a long generation can be cancelled. No TLS: bind to loopback or put a proxy in
// front.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http_parser.h"

namespace g4::server {

namespace http_detail {
class Connection;
}

namespace detail {
// Where a response goes: its connection, as the handler's thread sees it.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Sends bytes; blocks until they are handed to the kernel. False when the client is gone, the write
  // timed out, or the server is being torn down.
  virtual bool write(std::string data) = 0;
  // True when the client closed or reset the connection (checked without blocking).
  virtual bool peer_gone() const = 0;
  // True once the server has begun shutting down.
  virtual bool stopping() const = 0;
};
}  // namespace detail

class HttpResponse {
 public:
  // head_only: a HEAD request (no body is sent). keep_alive: the connection stays open afterwards.
  // chunked_ok: the client speaks HTTP/1.1 (HTTP/1.0 streams end by closing the connection).
  HttpResponse(std::shared_ptr<detail::ResponseSink> sink, bool head_only, bool keep_alive, bool chunked_ok = true);

  // Adds a header to the response head (not Content-Length / Transfer-Encoding / Connection).
  // Control characters are dropped from the name and value.
  void set_header(const std::string& name, const std::string& value);
  // A complete response. Returns false when the client is gone.
  bool send(int status, const std::string& content_type, std::string_view body);
  // Starts a streamed response; then write() each piece and end() it.
  bool start_stream(int status, const std::string& content_type);
  bool write(std::string_view data);
  bool end();

  bool started() const { return started_; }
  bool streaming() const { return streaming_; }
  bool ended() const { return ended_; }
  bool failed() const { return failed_; }
  bool keep_alive() const { return keep_alive_; }
  int status() const { return status_; }
  // True when the client closed or reset the connection (checked without blocking).
  bool client_gone() const;
  // True once the server is shutting down: a handler should finish now (end a stream with a final
  // event, answer a waiting request with 503).
  bool shutting_down() const;

 private:
  bool send_all(std::string data);
  std::string head(int status, const std::string& content_type, const std::string& framing);

  std::shared_ptr<detail::ResponseSink> sink_;
  bool head_only_;
  bool keep_alive_;
  bool chunked_ok_;
  bool started_ = false, streaming_ = false, ended_ = false, failed_ = false;
  int status_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: pick a free port (see HttpServer::port())
  size_t max_body_bytes = 32u << 20;  // larger bodies get 413 (before they are read)
  size_t max_header_bytes = 64u << 10;  // larger heads get 431
  // Open connections. At the cap a new client is still served: the connection idle longest (or else
  // the slowest one still sending its request) is closed to make room. Lowered to fit the process's
  // file descriptor limit.
  int max_connections = 512;
  int idle_timeout_ms = 30000;     // a keep-alive connection with no request this long is closed
  int request_timeout_ms = 30000;  // one deadline for a request's head and body, from its first byte: 408
  int write_timeout_ms = 30000;    // a client that does not take a response's bytes this long is dropped
  int workers = 64;                // handler threads (started as needed)
  int queue = 256;                 // requests waiting for a handler thread; beyond: 503 with Retry-After
};

struct HttpServerStats {
  int connections = 0;     // open connections
  int handlers = 0;        // requests running or waiting for a handler thread
  int worker_threads = 0;  // handler threads started
  int64_t evicted = 0;     // connections closed to make room for new ones
  int64_t rejected = 0;    // requests answered 503 because every worker and queue place was taken
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. Throws g4::Error when the address cannot be bound
  // (message names host and port).
  void start();
  // Graceful stop: stops accepting, closes connections that are not in a handler, lets running handlers
  // finish (they see HttpResponse::shutting_down(); queued requests are answered 503) for up to
  // `grace_ms`, then drops the rest, and joins every thread. Idempotent.
  void stop(int grace_ms = 5000);
  int port() const { return port_; }
  int active_connections() const;
  HttpServerStats stats() const;

 private:
  friend class http_detail::Connection;
  struct Impl;
  HttpServerOptions opt_;
  HttpHandler handler_;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace g4::server

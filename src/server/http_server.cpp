#include "server/http_server.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "server/http_pool.h"

namespace g4::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr int kLingerMs = 1000;  // after a final response, how long unread input is drained before closing

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out;
}

std::string error_json(int status, std::string_view message) {
  const char* type = status >= 500 ? "server_error" : "invalid_request_error";
  return std::string(R"({"error":{"message":")") + json_escape(message) + R"(","type":")" + type + R"(","param":null,"code":null}})";
}

std::string http_date() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// A complete response written by the I/O thread itself (refusals, 408, 503).
std::string plain_response(int status, std::string_view message, bool close, const char* extra = "") {
  std::string body = error_json(status, message);
  return "HTTP/1.1 " + std::to_string(status) + " " + http_status_text(status) + "\r\nDate: " + http_date() +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         (close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n") + body;
}

std::string clean_header_text(const std::string& s) {
  std::string out;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
  return out;
}

}  // namespace

// ---- response ---------------------------------------------------------------------------------

HttpResponse::HttpResponse(std::shared_ptr<detail::ResponseSink> sink, bool head_only, bool keep_alive, bool chunked_ok)
    : sink_(std::move(sink)), head_only_(head_only), keep_alive_(keep_alive), chunked_ok_(chunked_ok) {}

void HttpResponse::set_header(const std::string& name, const std::string& value) {
  headers_.emplace_back(clean_header_text(name), clean_header_text(value));
}

bool HttpResponse::send_all(std::string data) {
  if (failed_) return false;
  if (!sink_->write(std::move(data))) failed_ = true;
  return !failed_;
}

bool HttpResponse::client_gone() const { return failed_ || sink_->peer_gone(); }

bool HttpResponse::shutting_down() const { return sink_->stopping(); }

std::string HttpResponse::head(int status, const std::string& content_type, const std::string& framing) {
  if (sink_->stopping()) keep_alive_ = false;  // tell the client not to reuse a connection about to close
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + http_status_text(status) + "\r\nDate: " + http_date() + "\r\n";
  if (!content_type.empty()) h += "Content-Type: " + clean_header_text(content_type) + "\r\n";
  for (auto& [k, v] : headers_) h += k + ": " + v + "\r\n";
  h += framing;
  h += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  h += "\r\n";
  return h;
}

bool HttpResponse::send(int status, const std::string& content_type, std::string_view body) {
  if (started_) return false;
  started_ = true;
  ended_ = true;
  status_ = status;
  // 1xx, 204 and 304 responses have neither a body nor a Content-Length (RFC 9110 8.6).
  const bool no_body = status < 200 || status == 204 || status == 304;
  std::string h = head(status, no_body ? std::string() : content_type,
                       no_body ? std::string() : "Content-Length: " + std::to_string(body.size()) + "\r\n");
  if (!head_only_ && !no_body) h.append(body);
  return send_all(std::move(h));
}

bool HttpResponse::start_stream(int status, const std::string& content_type) {
  if (started_) return false;
  started_ = true;
  streaming_ = true;
  status_ = status;
  set_header("Cache-Control", "no-cache");
  set_header("X-Accel-Buffering", "no");
  // An HTTP/1.0 client cannot read chunked encoding: its stream ends when the connection closes.
  if (!chunked_ok_) keep_alive_ = false;
  return send_all(head(status, content_type, chunked_ok_ ? "Transfer-Encoding: chunked\r\n" : ""));
}

bool HttpResponse::write(std::string_view data) {
  if (!streaming_ || ended_) return false;
  if (data.empty() || head_only_) return !failed_;
  if (!chunked_ok_) return send_all(std::string(data));
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string chunk = size;
  chunk.append(data);
  chunk += "\r\n";
  return send_all(std::move(chunk));
}

bool HttpResponse::end() {
  if (!streaming_ || ended_) return !failed_;
  ended_ = true;
  if (head_only_ || !chunked_ok_) return !failed_;
  return send_all("0\r\n\r\n");
}

// ---- connection -------------------------------------------------------------------------------

namespace http_detail {
class Connection;
}
using http_detail::Connection;

struct HttpServer::Impl {
  Impl(HttpServerOptions o, HttpHandler h)
      : opt(std::move(o)), handler(std::move(h)), pool(opt.workers, opt.queue) {}

  void do_accept();
  void on_accept(const error_code& ec, tcp::socket socket);
  bool make_room();
  void close_all(bool handlers_too);

  HttpServerOptions opt;
  HttpHandler handler;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::thread io_thread;
  HandlerPool pool;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> conns;  // I/O thread only
  std::atomic<int> n_conns{0};
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> evicted{0}, rejected{0};
  int max_conns = 0;
  std::mutex stop_mu;
  bool started = false, stopped = false;
};

namespace http_detail {

// One client connection. Everything but the ResponseSink methods runs on the I/O thread. While a
// handler runs the connection reads nothing (requests are answered in order), and its socket is never
// closed, only shut down, so the descriptor the handler's thread polls stays this connection's.
class Connection : public detail::ResponseSink, public std::enable_shared_from_this<Connection> {
 public:
  enum class Phase { Idle, Reading, Handling, Closing, Closed };

  Connection(HttpServer::Impl& srv, tcp::socket socket)
      : srv_(srv),
        socket_(std::move(socket)),
        deadline_(srv.io),
        write_timer_(srv.io),
        parser_(HttpParseLimits{srv.opt.max_header_bytes, srv.opt.max_body_bytes}),
        fd_(socket_.native_handle()) {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = (ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string()) + ":" +
                       std::to_string(ep.port());
  }

  Phase phase() const { return phase_; }
  Clock::time_point since() const { return since_; }

  void start() { enter_idle(); }

  // ---- ResponseSink (handler threads)
  bool write(std::string data) override {
    if (dead_.load()) return false;
    auto done = std::make_shared<std::promise<bool>>();
    std::future<bool> result = done->get_future();
    asio::post(srv_.io, [self = shared_from_this(), data = std::move(data), done]() mutable {
      self->queue_write(std::move(data), [done](bool ok) { done->set_value(ok); });
    });
    try {
      return result.get();
    } catch (const std::future_error&) {  // the I/O thread dropped the job: the server is being torn down
      return false;
    }
  }

  bool peer_gone() const override {
    if (dead_.load()) return true;
    pollfd p{fd_, short(POLLIN | POLLRDHUP), 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }

  bool stopping() const override { return srv_.stopping.load(); }

  // Closes now; a connection held by a handler is only shut down (and cancelled) until the handler
  // returns, so its writes fail and client_gone() turns true.
  void close_now() {
    if (phase_ == Phase::Closed) return;
    dead_ = true;
    error_code ec;
    if (phase_ == Phase::Handling) {
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.cancel(ec);
      return;
    }
    phase_ = Phase::Closed;
    deadline_.cancel();
    write_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    auto self = shared_from_this();  // keep this alive past its removal from the registry
    if (srv_.conns.erase(this)) --srv_.n_conns;
  }

 private:
  struct PendingWrite {
    std::string data;
    std::function<void(bool)> done;
  };

  void enter_idle() {
    phase_ = Phase::Idle;
    since_ = Clock::now();
    sent_continue_ = false;
    arm_deadline(srv_.opt.idle_timeout_ms);
    if (!in_.empty()) process();
    else read_more();
  }

  void arm_deadline(int ms) {
    const uint64_t gen = ++deadline_gen_;
    deadline_.expires_after(std::chrono::milliseconds(ms));
    deadline_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (ec || gen != self->deadline_gen_) return;
      self->on_deadline();
    });
  }
  void disarm_deadline() {
    ++deadline_gen_;
    deadline_.cancel();
  }

  void on_deadline() {
    switch (phase_) {
      case Phase::Idle:
      case Phase::Closing:
        close_now();
        break;
      case Phase::Reading:
        refuse(408, "the request was not received in time (limit " + std::to_string(srv_.opt.request_timeout_ms) + " ms)");
        break;
      default:
        break;
    }
  }

  void read_more() {
    if (reading_ || phase_ == Phase::Closed || phase_ == Phase::Handling) return;
    reading_ = true;
    socket_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->reading_ = false;
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, size_t n) {
    if (phase_ == Phase::Closed) return;
    if (ec) {
      // The client is gone (or half-closed). A pending final response is still flushed.
      if (phase_ == Phase::Closing && writing_) close_after_write_ = true;
      else close_now();
      return;
    }
    if (phase_ == Phase::Closing) {  // draining what the client still sends after our final response
      read_more();
      return;
    }
    in_.append(rbuf_.data(), n);
    process();
  }

  void process() {
    const size_t used = parser_.feed(in_);
    in_.erase(0, used);
    switch (parser_.state()) {
      case HttpRequestParser::State::Error:
        refuse(parser_.error_status(), parser_.error_message());
        return;
      case HttpRequestParser::State::Done:
        dispatch();
        return;
      case HttpRequestParser::State::Head:
      case HttpRequestParser::State::Body:
        if (phase_ == Phase::Idle) {
          // One deadline for the whole request, from its first byte; it is not renewed by progress.
          phase_ = Phase::Reading;
          since_ = Clock::now();
          arm_deadline(srv_.opt.request_timeout_ms);
        }
        if (parser_.wants_continue() && !sent_continue_) {
          sent_continue_ = true;
          queue_write("HTTP/1.1 100 Continue\r\n\r\n", nullptr);
        }
        read_more();
        return;
      case HttpRequestParser::State::Idle:
        read_more();
        return;
    }
  }

  void dispatch() {
    disarm_deadline();
    HttpRequest req = parser_.take();
    parser_.reset();
    req.remote = remote_;
    const bool keep_alive = req.keep_alive;
    phase_ = Phase::Handling;
    auto self = shared_from_this();
    const bool ok = srv_.pool.try_submit([self, req = std::move(req)]() mutable { self->run_handler(req); });
    if (!ok) {
      ++srv_.rejected;
      phase_ = Phase::Reading;  // nothing runs for this request; the I/O thread answers it
      queue_write(plain_response(503, "the server is busy; retry later", !keep_alive, "Retry-After: 1\r\n"),
                  [self, keep_alive](bool written) {
                    if (written && keep_alive) self->enter_idle();
                    else self->linger_close();
                  });
    }
  }

  // Runs on a handler thread.
  void run_handler(const HttpRequest& req) {
    HttpResponse res(shared_from_this(), req.method == "HEAD", req.keep_alive, req.version == "HTTP/1.1");
    if (srv_.stopping.load()) {
      res.set_header("Retry-After", "1");
      res.send(503, "application/json", error_json(503, "the server is shutting down"));
    } else {
      try {
        srv_.handler(req, res);
      } catch (const std::exception& e) {
        if (!res.started()) res.send(500, "application/json", error_json(500, std::string("internal error: ") + e.what()));
      } catch (...) {
        if (!res.started()) res.send(500, "application/json", error_json(500, "internal error"));
      }
      if (!res.started()) res.send(500, "application/json", error_json(500, "no response"));
      if (res.streaming() && !res.ended()) res.end();
    }
    const bool keep = res.keep_alive() && !res.failed();
    asio::post(srv_.io, [self = shared_from_this(), keep] { self->on_handler_done(keep); });
  }

  void on_handler_done(bool keep) {
    if (dead_.load()) {
      phase_ = Phase::Closing;  // lets close_now() really close
      close_now();
      return;
    }
    if (!keep || srv_.stopping.load()) {
      phase_ = Phase::Closing;
      linger_close();
      return;
    }
    enter_idle();
  }

  // Answers with an error and closes: the rest of the connection's bytes cannot be trusted.
  void refuse(int status, const std::string& message) {
    disarm_deadline();
    phase_ = Phase::Closing;
    in_.clear();
    queue_write(plain_response(status, message, true), [self = shared_from_this()](bool) { self->linger_close(); });
    read_more();
  }

  // After a final response: stop sending, drain what the client still sends for a moment (closing
  // with unread input would reset the connection and could destroy the response in flight), close.
  void linger_close() {
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closing;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (close_after_write_) {
      close_now();
      return;
    }
    arm_deadline(kLingerMs);
    read_more();
  }

  void queue_write(std::string data, std::function<void(bool)> done) {
    if (dead_.load() || phase_ == Phase::Closed) {
      if (done) done(false);
      return;
    }
    writes_.push_back({std::move(data), std::move(done)});
    if (!writing_) write_next();
  }

  void write_next() {
    if (writes_.empty()) {
      writing_ = false;
      ++write_gen_;
      write_timer_.cancel();
      if (close_after_write_) close_now();
      return;
    }
    writing_ = true;
    const uint64_t gen = ++write_gen_;
    write_timer_.expires_after(std::chrono::milliseconds(srv_.opt.write_timeout_ms));
    write_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (ec || gen != self->write_gen_) return;
      self->close_now();  // the client does not read
    });
    asio::async_write(socket_, asio::buffer(writes_.front().data),
                      [self = shared_from_this()](const error_code& ec, size_t) { self->on_written(ec); });
  }

  void on_written(const error_code& ec) {
    if (writes_.empty()) return;
    if (ec) {
      dead_ = true;
      std::deque<PendingWrite> failed;
      failed.swap(writes_);
      writing_ = false;
      ++write_gen_;
      for (PendingWrite& w : failed)
        if (w.done) w.done(false);
      close_now();
      return;
    }
    PendingWrite w = std::move(writes_.front());
    writes_.pop_front();
    if (w.done) w.done(true);
    write_next();
  }

  HttpServer::Impl& srv_;
  tcp::socket socket_;
  asio::steady_timer deadline_, write_timer_;
  uint64_t deadline_gen_ = 0, write_gen_ = 0;
  HttpRequestParser parser_;
  const int fd_;
  std::string remote_ = "?";
  std::array<char, 16384> rbuf_{};
  std::string in_;  // received and not yet parsed
  std::deque<PendingWrite> writes_;
  Phase phase_ = Phase::Idle;
  Clock::time_point since_ = Clock::now();
  bool reading_ = false, writing_ = false, sent_continue_ = false, close_after_write_ = false;
  std::atomic<bool> dead_{false};
};

}  // namespace http_detail

// ---- server -----------------------------------------------------------------------------------

void HttpServer::Impl::do_accept() {
  acceptor.async_accept([this](const error_code& ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void HttpServer::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopping.load() || !acceptor.is_open()) return;
  if (ec) {
    // Out of descriptors (or another transient failure): free one and try again shortly, without spinning.
    make_room();
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](const error_code& e) {
      if (!e && !stopping.load()) do_accept();
    });
    return;
  }
  if (n_conns.load() >= max_conns && !make_room()) {
    // Every connection runs a handler: the new one is answered at once (its send buffer is empty, so
    // this does not block) and closed.
    std::string r = plain_response(503, "too many connections", true, "Retry-After: 1\r\n");
#ifdef MSG_NOSIGNAL
    ::send(socket.native_handle(), r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
#else  // macOS: serve ignores SIGPIPE process-wide (cmd_serve.cpp)
    ::send(socket.native_handle(), r.data(), r.size(), MSG_DONTWAIT);
#endif
    ++rejected;
    error_code ignored;
    socket.close(ignored);
  } else {
    auto c = std::make_shared<Connection>(*this, std::move(socket));
    conns.emplace(c.get(), c);
    ++n_conns;
    c->start();
  }
  do_accept();
}

// Closes one connection to make room for a new one: one already closing, else the one idle longest,
// else the one that has been sending its request longest (a trickling client). Never one in a handler.
bool HttpServer::Impl::make_room() {
  std::shared_ptr<Connection> victim;
  int victim_rank = 3;
  Clock::time_point victim_since{};
  for (auto& [p, c] : conns) {
    int rank = c->phase() == Connection::Phase::Closing ? 0 : c->phase() == Connection::Phase::Idle ? 1
             : c->phase() == Connection::Phase::Reading ? 2 : 3;
    if (rank < victim_rank || (rank == victim_rank && rank < 3 && c->since() < victim_since)) {
      victim = c;
      victim_rank = rank;
      victim_since = c->since();
    }
  }
  if (!victim) return false;
  victim->close_now();
  ++evicted;
  return true;
}

void HttpServer::Impl::close_all(bool handlers_too) {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [p, c] : conns) all.push_back(c);
  for (auto& c : all)
    if (handlers_too || c->phase() != Connection::Phase::Handling) c->close_now();
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler) : opt_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  if (impl_) throw Error("the HTTP server is already started");
  impl_ = std::make_shared<Impl>(opt_, handler_);
  Impl& s = *impl_;
  // Each connection holds a descriptor: raise the soft limit toward the cap, or lower the cap to fit.
  s.max_conns = std::max(1, opt_.max_connections);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    const rlim_t want = rlim_t(s.max_conns) + 128;
    if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
      rlimit raised = rl;
      raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
      if (rl.rlim_cur < want) s.max_conns = std::max(1, int(rl.rlim_cur) - 128);
    }
  }
  error_code ec;
  tcp::resolver resolver(s.io);
  const std::string port = std::to_string(opt_.port);
  auto results = resolver.resolve(opt_.host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw Error("cannot resolve host '" + opt_.host + "': " + ec.message());
  std::string last_error = "no address";
  for (const auto& r : results) {
    error_code e;
    tcp::acceptor a(s.io);
    a.open(r.endpoint().protocol(), e);
    if (!e) a.set_option(tcp::acceptor::reuse_address(true), e);
    if (!e) a.bind(r.endpoint(), e);
    if (!e) a.listen(511, e);
    if (e) {
      last_error = e.message();
      continue;
    }
    s.acceptor = std::move(a);
    break;
  }
  if (!s.acceptor.is_open()) {
    impl_.reset();
    throw Error("cannot listen on " + opt_.host + ":" + port + ": " + last_error);
  }
  port_ = s.acceptor.local_endpoint().port();
  s.do_accept();
  s.started = true;
  s.io_thread = std::thread([&s] {
    auto guard = asio::make_work_guard(s.io);
    for (;;) {
      try {
        s.io.run();
        return;
      } catch (...) {
        // A throwing completion handler must not end the I/O thread; keep serving.
      }
    }
  });
}

void HttpServer::stop(int grace_ms) {
  if (!impl_) return;
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lk(s.stop_mu);
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  // Stop accepting; close every connection that is not in a handler.
  asio::post(s.io, [&s] {
    error_code ec;
    s.acceptor.close(ec);
    s.accept_retry.cancel();
    s.close_all(false);
  });
  // Running handlers see shutting_down() and finish (streams end with a final event); queued ones answer
  // 503. After the grace period, the connections still held are cut, so their handlers' writes fail and
  // client_gone() turns true.
  if (!s.pool.wait_idle(std::chrono::milliseconds(std::max(0, grace_ms)))) asio::post(s.io, [&s] { s.close_all(true); });
  s.pool.stop();
  asio::post(s.io, [&s] {
    s.close_all(true);
    s.io.stop();
  });
  s.io_thread.join();
  s.conns.clear();
}

int HttpServer::active_connections() const { return impl_ ? impl_->n_conns.load() : 0; }

HttpServerStats HttpServer::stats() const {
  HttpServerStats st;
  if (!impl_) return st;
  st.connections = impl_->n_conns.load();
  st.handlers = impl_->pool.outstanding();
  st.worker_threads = impl_->pool.threads();
  st.evicted = impl_->evicted.load();
  st.rejected = impl_->rejected.load();
  return st;
}

}  // namespace g4::server

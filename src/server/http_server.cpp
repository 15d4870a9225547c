#include "server/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace g4::server {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

bool has_token(const std::string& header_value, const std::string& token) {
  std::string v = lower(header_value);
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (trim(std::string_view(v).substr(start, comma - start)) == token) return true;
    start = comma + 1;
  }
  return false;
}

std::string addr_string(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// Reads more bytes into `buf`. Returns > 0 bytes read, 0 on EOF, -1 on error, timeout or stop.
ssize_t read_more(int fd, std::string& buf, int timeout_s, const std::atomic<bool>& stopping) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    if (stopping.load()) return -1;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 250);
    if (r < 0 && errno != EINTR) return -1;
    if (r > 0) {
      char tmp[16384];
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return n < 0 ? -1 : 0;
      buf.append(tmp, size_t(n));
      return n;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
  }
}

void send_raw(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(size_t(n));
  }
}

std::string simple_error(int status, const std::string& message) {
  std::string body = R"({"error":{"message":")" + message + R"(","type":"invalid_request_error","param":null,"code":null}})";
  return "HTTP/1.1 " + std::to_string(status) + " " + http_status_text(status) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

const char* http_status_text(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string HttpRequest::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

// ---- response ---------------------------------------------------------------------------------

void HttpResponse::set_header(const std::string& name, const std::string& value) {
  headers_.emplace_back(name, value);
}

bool HttpResponse::send_all(std::string_view data) {
  if (failed_) return false;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = true;
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}

std::string HttpResponse::head(int status, const std::string& content_type, const std::string& framing) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + http_status_text(status) + "\r\n";
  if (!content_type.empty()) h += "Content-Type: " + content_type + "\r\n";
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
  std::string h = head(status, content_type, "Content-Length: " + std::to_string(body.size()) + "\r\n");
  if (head_only_) return send_all(h);
  h.append(body);
  return send_all(h);
}

bool HttpResponse::start_stream(int status, const std::string& content_type) {
  if (started_) return false;
  started_ = true;
  streaming_ = true;
  status_ = status;
  set_header("Cache-Control", "no-cache");
  set_header("X-Accel-Buffering", "no");
  return send_all(head(status, content_type, "Transfer-Encoding: chunked\r\n"));
}

bool HttpResponse::write(std::string_view data) {
  if (!streaming_ || ended_) return false;
  if (data.empty() || head_only_) return !failed_;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string chunk = size;
  chunk.append(data);
  chunk += "\r\n";
  return send_all(chunk);
}

bool HttpResponse::end() {
  if (!streaming_ || ended_) return !failed_;
  ended_ = true;
  if (head_only_) return !failed_;
  return send_all("0\r\n\r\n");
}

bool HttpResponse::client_gone() const {
  if (failed_) return true;
  pollfd p{fd_, short(POLLIN | POLLRDHUP), 0};
  int r = ::poll(&p, 1, 0);
  if (r <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
  }
  return false;
}

// ---- server -----------------------------------------------------------------------------------

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : opt_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(opt_.port);
  const char* host = opt_.host.empty() ? nullptr : opt_.host.c_str();
  int rc = ::getaddrinfo(host, port.c_str(), &hints, &res);
  if (rc != 0) throw Error("cannot resolve host '" + opt_.host + "': " + gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 256) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) throw Error("cannot listen on " + opt_.host + ":" + port + ": " + last_error);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  stopping_ = false;
  accept_thread_ = std::thread([this] { accept_loop(); });
}

void HttpServer::stop(int grace_ms) {
  if (listen_fd_ < 0 && !accept_thread_.joinable()) return;
  stopping_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(grace_ms), [this] { return active_.load() == 0; });
}

void HttpServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 250);
    if (r <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{opt_.read_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (active_.load() >= opt_.max_connections) {
      send_raw(fd, simple_error(503, "too many connections"));
      ::close(fd);
      continue;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      open_fds_.push_back(fd);
      ++active_;
    }
    std::string remote = addr_string(ss);
    std::thread([this, fd, remote] {
      try {
        serve_connection(fd, remote);
      } catch (...) {
      }
      std::lock_guard<std::mutex> lk(mu_);
      open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
      ::close(fd);
      --active_;
      cv_.notify_all();
    }).detach();
  }
}

void HttpServer::serve_connection(int fd, std::string remote) {
  std::string buf;
  while (!stopping_.load()) {
    // ---- head
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > opt_.max_header_bytes) {
        send_raw(fd, simple_error(431, "request head too large"));
        return;
      }
      if (read_more(fd, buf, buf.empty() ? opt_.idle_timeout_s : opt_.read_timeout_s, stopping_) <= 0) return;
    }
    if (head_end > opt_.max_header_bytes) {
      send_raw(fd, simple_error(431, "request head too large"));
      return;
    }
    HttpRequest req;
    req.remote = remote;
    std::string_view head(buf.data(), head_end);
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    {
      size_t s1 = request_line.find(' ');
      size_t s2 = s1 == std::string_view::npos ? s1 : request_line.find(' ', s1 + 1);
      if (s1 == std::string_view::npos || s2 == std::string_view::npos || s1 == 0 || s2 == s1 + 1) {
        send_raw(fd, simple_error(400, "malformed request line"));
        return;
      }
      req.method = std::string(request_line.substr(0, s1));
      req.target = std::string(request_line.substr(s1 + 1, s2 - s1 - 1));
      req.version = std::string(request_line.substr(s2 + 1));
      if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") {
        send_raw(fd, simple_error(505, "only HTTP/1.0 and HTTP/1.1 are supported"));
        return;
      }
      size_t q = req.target.find('?');
      req.path = req.target.substr(0, q);
      if (q != std::string::npos) req.query = req.target.substr(q + 1);
    }
    bool bad_header = false;
    for (size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2; pos < head.size();) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string_view::npos) e = head.size();
      std::string_view line = head.substr(pos, e - pos);
      pos = e + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        bad_header = true;
        break;
      }
      std::string name = lower(std::string(line.substr(0, colon)));
      std::string value = trim(line.substr(colon + 1));
      auto it = req.headers.find(name);
      if (it == req.headers.end()) req.headers.emplace(name, value);
      else it->second += ", " + value;
    }
    if (bad_header) {
      send_raw(fd, simple_error(400, "malformed header line"));
      return;
    }
    buf.erase(0, head_end + 4);

    // ---- body
    const bool expect_continue = has_token(req.header("expect"), "100-continue");
    bool sent_continue = false;
    auto send_continue = [&] {
      if (expect_continue && !sent_continue) {
        send_raw(fd, "HTTP/1.1 100 Continue\r\n\r\n");
        sent_continue = true;
      }
    };
    if (has_token(req.header("transfer-encoding"), "chunked")) {
      send_continue();
      for (;;) {
        size_t le;
        while ((le = buf.find("\r\n")) == std::string::npos) {
          if (buf.size() > 1024) { send_raw(fd, simple_error(400, "malformed chunk")); return; }
          if (read_more(fd, buf, opt_.read_timeout_s, stopping_) <= 0) return;
        }
        std::string size_text = buf.substr(0, le);
        size_t semi = size_text.find(';');
        if (semi != std::string::npos) size_text.resize(semi);
        size_text = trim(size_text);
        if (size_text.empty() || size_text.size() > 12 || size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
          send_raw(fd, simple_error(400, "malformed chunk size"));
          return;
        }
        size_t n = std::stoull(size_text, nullptr, 16);
        if (req.body.size() + n > opt_.max_body_bytes) {
          send_raw(fd, simple_error(413, "request body too large"));
          return;
        }
        buf.erase(0, le + 2);
        if (n == 0) {
          // trailers until an empty line
          for (;;) {
            size_t te;
            while ((te = buf.find("\r\n")) == std::string::npos) {
              if (buf.size() > 8192) { send_raw(fd, simple_error(400, "malformed trailer")); return; }
              if (read_more(fd, buf, opt_.read_timeout_s, stopping_) <= 0) return;
            }
            bool empty = te == 0;
            buf.erase(0, te + 2);
            if (empty) break;
          }
          break;
        }
        while (buf.size() < n + 2)
          if (read_more(fd, buf, opt_.read_timeout_s, stopping_) <= 0) return;
        req.body.append(buf, 0, n);
        buf.erase(0, n + 2);
      }
    } else if (!req.header("content-length").empty()) {
      std::string cl = req.header("content-length");
      if (cl.size() > 15 || cl.find_first_not_of("0123456789") != std::string::npos) {
        send_raw(fd, simple_error(400, "invalid Content-Length"));
        return;
      }
      size_t n = std::stoull(cl);
      if (n > opt_.max_body_bytes) {
        send_raw(fd, simple_error(413, "request body too large (limit " + std::to_string(opt_.max_body_bytes) + " bytes)"));
        return;
      }
      if (buf.size() < n) send_continue();
      while (buf.size() < n)
        if (read_more(fd, buf, opt_.read_timeout_s, stopping_) <= 0) return;
      req.body = buf.substr(0, n);
      buf.erase(0, n);
    }

    // ---- dispatch
    std::string conn = req.header("connection");
    bool keep_alive = req.version == "HTTP/1.1" ? !has_token(conn, "close") : has_token(conn, "keep-alive");
    HttpResponse res(fd, req.method == "HEAD", keep_alive);
    try {
      handler_(req, res);
    } catch (...) {
      if (!res.started())
        res.send(500, "application/json", R"({"error":{"message":"internal error","type":"server_error","param":null,"code":null}})");
    }
    if (!res.started())
      res.send(500, "application/json", R"({"error":{"message":"no response","type":"server_error","param":null,"code":null}})");
    if (res.streaming()) res.end();
    if (res.failed() || !keep_alive) return;
  }
}

}  // namespace g4::server

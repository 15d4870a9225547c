#include "server/http_parser.h"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <optional>

namespace g4::server {

namespace http = boost::beast::http;

namespace {

bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// field-vchar, SP and HTAB (obs-text included): everything but control characters.
bool is_field_value_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c + ('a' - 'A'));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
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
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
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

struct HttpRequestParser::Impl {
  std::optional<http::request_parser<http::string_body>> p;
  // Beast keeps a reference to its chunk-header callback: it lives here, beside the parser.
  std::function<void(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)> on_chunk_header;
};

HttpRequestParser::HttpRequestParser(HttpParseLimits limits) : limits_(limits), impl_(std::make_unique<Impl>()) { reset(); }

HttpRequestParser::~HttpRequestParser() = default;

void HttpRequestParser::reset() {
  impl_->p.emplace();
  // Our own scan enforces the head limit first; Beast's (8 KiB by default) must not be the tighter one.
  impl_->p->header_limit(std::uint32_t(std::min<size_t>(limits_.max_head_bytes + 4, UINT32_MAX)));
  impl_->p->body_limit(std::uint64_t(limits_.max_body_bytes));
  impl_->p->eager(true);
  // Beast bounds neither chunk extensions nor the chunk-size line they sit on.
  impl_->on_chunk_header = [this](std::uint64_t, boost::beast::string_view ext, boost::beast::error_code& ec) {
    if (ext.size() > limits_.max_line_bytes) {
      ext_too_long_ = true;
      ec = http::error::bad_chunk_extension;
    }
  };
  impl_->p->on_chunk_header(impl_->on_chunk_header);
  state_ = State::Idle;
  scanned_ = 0;
  head_fields_ = 0;
  expect_continue_ = false;
  ext_too_long_ = false;
  error_status_ = 0;
  error_message_.clear();
  req_ = HttpRequest();
}

void HttpRequestParser::fail(int status, std::string message) {
  state_ = State::Error;
  error_status_ = status;
  error_message_ = std::move(message);
}

bool HttpRequestParser::wants_continue() const { return state_ == State::Body && expect_continue_; }

size_t HttpRequestParser::feed(std::string_view data) {
  size_t used = 0;
  if (state_ == State::Idle) {
    // RFC 9112 2.2: empty lines before a request line are ignored (some clients send one after a body).
    while (used < data.size()) {
      if (data[used] == '\r') {
        if (used + 1 >= data.size()) return used;
        if (data[used + 1] != '\n') {
          fail(400, "bare CR in the request head");
          return used;
        }
        used += 2;
      } else if (data[used] == '\n') {
        fail(400, "bare LF in the request head (lines end with CRLF)");
        return used;
      } else {
        state_ = State::Head;
        break;
      }
    }
    if (state_ == State::Idle) return used;
  }
  if (state_ == State::Head) used += feed_head(data.substr(used));
  if (state_ == State::Body) used += feed_body(data.substr(used));
  return used;
}

size_t HttpRequestParser::feed_head(std::string_view d) {
  // Find the blank line that ends the head, refusing bare CR / LF on the way (a head that never ends
  // because its lines end in LF alone is refused at once instead of waiting for the limit).
  size_t end = 0;
  for (size_t i = scanned_; i < d.size(); ++i) {
    const char c = d[i];
    if (i > 0 && d[i - 1] == '\r' && c != '\n') {
      fail(400, "bare CR in the request head");
      return 0;
    }
    if (c == '\n') {
      if (i == 0 || d[i - 1] != '\r') {
        fail(400, "bare LF in the request head (lines end with CRLF)");
        return 0;
      }
      if (i >= 3 && d[i - 2] == '\n' && d[i - 3] == '\r') {
        end = i + 1;
        break;
      }
    }
    if (i >= limits_.max_head_bytes) {
      fail(431, "request head too large (limit " + std::to_string(limits_.max_head_bytes) + " bytes)");
      return 0;
    }
  }
  if (end == 0) {
    scanned_ = d.size();  // a trailing CR is judged with the next byte (the check looks back one byte)
    return 0;
  }
  std::string_view head = d.substr(0, end);
  if (!check_head_bytes(head)) return 0;

  boost::beast::error_code ec;
  auto& p = *impl_->p;
  size_t n = p.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec == http::error::need_more) ec = {};
  if (!ec && !p.is_header_done()) fail(400, "malformed request head");
  if (ec) {
    if (ec == http::error::header_limit) fail(431, "request head too large");
    else if (ec == http::error::body_limit)
      fail(413, "request body too large (limit " + std::to_string(limits_.max_body_bytes) + " bytes)");
    else fail(400, "malformed request head: " + ec.message());
  }
  if (state_ == State::Error) return n;
  if (!check_fields()) return n;
  if (p.is_done()) {
    state_ = State::Done;
    req_.body = std::move(p.get().body());
  } else {
    state_ = State::Body;
  }
  return n;
}

bool HttpRequestParser::check_head_bytes(std::string_view head) {
  // request-line = method SP request-target SP HTTP-version CRLF
  size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  size_t s1 = line.find(' ');
  size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
  if (s1 == std::string_view::npos || s2 == std::string_view::npos || s1 == 0) {
    fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, s1), target = line.substr(s1 + 1, s2 - s1 - 1), version = line.substr(s2 + 1);
  for (unsigned char c : method)
    if (!is_tchar(c)) {
      fail(400, "malformed request line (method)");
      return false;
    }
  if (target.empty()) {
    fail(400, "malformed request line (empty target)");
    return false;
  }
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) {
      fail(400, "malformed request line (invalid byte in the target)");
      return false;
    }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' || version[5] > '9' ||
      version[7] < '0' || version[7] > '9') {
    fail(400, "malformed request line (version)");
    return false;
  }
  if (version[5] != '1') {
    fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    return false;
  }
  // field-line = field-name ":" OWS field-value OWS CRLF
  for (size_t pos = line_end + 2; pos + 2 < head.size();) {
    size_t e = head.find("\r\n", pos);
    std::string_view f = head.substr(pos, e - pos);
    pos = e + 2;
    if (f.empty()) break;
    if (f[0] == ' ' || f[0] == '\t') {
      fail(400, "obsolete line folding (obs-fold) in the request head");
      return false;
    }
    size_t colon = f.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      fail(400, "malformed header line");
      return false;
    }
    for (unsigned char c : f.substr(0, colon))
      if (!is_tchar(c)) {
        fail(400, "invalid byte in a header name");
        return false;
      }
    for (unsigned char c : f.substr(colon + 1))
      if (!is_field_value_char(c)) {
        fail(400, "invalid byte in the value of header '" + std::string(f.substr(0, colon)) + "'");
        return false;
      }
  }
  return true;
}

bool HttpRequestParser::check_fields() {
  auto& msg = impl_->p->get();
  int n_te = 0, n_cl = 0, n_host = 0, n_expect = 0;
  std::string te, cl, expect;
  head_fields_ = 0;
  for (const auto& f : msg) {
    ++head_fields_;
    std::string name = lower(std::string_view(f.name_string().data(), f.name_string().size()));
    std::string_view value(f.value().data(), f.value().size());
    if (name == "transfer-encoding") ++n_te, te = value;
    else if (name == "content-length") ++n_cl, cl = value;
    else if (name == "host") ++n_host;
    else if (name == "expect") ++n_expect, expect = value;
    auto it = req_.headers.find(name);
    if (it == req_.headers.end()) req_.headers.emplace(std::move(name), std::string(value));
    else it->second.append(", ").append(value);
  }
  const bool http10 = msg.version() < 11;
  if (n_te > 0) {
    if (n_te > 1) return fail(400, "repeated Transfer-Encoding header"), false;
    if (!iequals(trim_ows(te), "chunked")) return fail(400, "unsupported Transfer-Encoding (only a single \"chunked\" is accepted)"), false;
    if (n_cl > 0) return fail(400, "Content-Length together with Transfer-Encoding"), false;
    if (http10) return fail(400, "Transfer-Encoding in an HTTP/1.0 request"), false;
  }
  if (n_cl > 1) return fail(400, "repeated Content-Length header"), false;
  if (n_cl == 1) {
    std::string_view v = trim_ows(cl);
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string_view::npos)
      return fail(400, "invalid Content-Length"), false;
  }
  if (n_host > 1 || (!http10 && n_host == 0)) return fail(400, "an HTTP/1.1 request needs exactly one Host header"), false;
  // RFC 9110 10.1.1: an HTTP/1.0 client's expectation is ignored (it cannot read a 100 response).
  if (!http10 && (n_expect > 1 || (n_expect == 1 && !iequals(trim_ows(expect), "100-continue"))))
    return fail(417, "unsupported Expect header (only 100-continue)"), false;
  expect_continue_ = n_expect == 1 && !http10;

  req_.method = std::string(msg.method_string());
  req_.target = std::string(msg.target());
  req_.version = http10 ? "HTTP/1.0" : "HTTP/1.1";
  req_.keep_alive = msg.keep_alive();
  std::string_view path = req_.target;
  if (path == "*") {
    if (req_.method != "OPTIONS") return fail(400, "the target '*' is for OPTIONS only"), false;
  } else if (path.size() > 8 && (iequals(path.substr(0, 7), "http://") || iequals(path.substr(0, 8), "https://"))) {
    // absolute-form: the path starts after the authority
    size_t start = path.find("//") + 2;
    size_t slash = path.find_first_of("/?", start);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  } else if (path[0] != '/') {
    return fail(400, "malformed request target (must start with '/')"), false;
  }
  size_t q = path.find('?');
  req_.path = std::string(path.substr(0, q));
  if (req_.path.empty()) req_.path = "/";
  if (q != std::string_view::npos) req_.query = std::string(path.substr(q + 1));
  return true;
}

size_t HttpRequestParser::feed_body(std::string_view d) {
  auto& p = *impl_->p;
  // Beast asserts (debug builds) when it resumes a last chunk whose trailer section is incomplete with
  // fewer than 5 bytes in hand. A chunked body can only end with 5 or more bytes unconsumed
  // ("0\r\n\r\n"), so waiting for them changes nothing else.
  if (p.chunked() && d.size() < 5) return 0;
  size_t used = 0;
  while (used < d.size() && !p.is_done()) {
    boost::beast::error_code ec;
    size_t n = p.put(boost::asio::buffer(d.data() + used, d.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit) {
      fail(413, "request body too large (limit " + std::to_string(limits_.max_body_bytes) + " bytes)");
      return used;
    }
    if (ec) {
      fail(400, ext_too_long_ ? std::string("chunk-size line too long") : "malformed request body: " + ec.message());
      return used;
    }
    if (n == 0) break;
  }
  if (p.is_done()) {
    size_t fields = 0;
    for (auto it = p.get().begin(); it != p.get().end(); ++it) ++fields;
    if (fields != head_fields_) {
      fail(400, "trailer fields in a chunked request are not supported");
      return used;
    }
    req_.body = std::move(p.get().body());
    state_ = State::Done;
  } else if (d.size() - used > limits_.max_line_bytes) {
    // Beast waits for the end of a chunk-size line or of the trailers without a bound of its own.
    fail(400, "chunk-size line or trailer section too long");
  }
  return used;
}

HttpRequest HttpRequestParser::take() { return std::move(req_); }

}  // namespace g4::server

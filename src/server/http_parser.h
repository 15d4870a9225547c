#pragma once
// The request side of HTTP/1.1 without sockets: bytes of one connection in, requests (or a refusal
// with its status code) out. Boost.Beast's parser does the parsing and the body framing; around it we
// enforce what RFC 9112 requires of a server and Beast tolerates, because a server behind a proxy that
// reads framing differently can have requests smuggled past it:
//   - the head is checked byte by byte before Beast sees it: strict request line, field names that
//     are tokens, field values of visible characters, SP and HTAB only (no bare CR or LF, NUL or other
//     control characters), no obs-fold, CRLF line endings;
//   - Transfer-Encoding must be one field reading exactly "chunked" (Beast accepts lists and ignores
//     codings it does not know), never together with Content-Length, never in HTTP/1.0;
//   - Content-Length must be one field of digits (Beast accepts lists and repeats of the same value);
//   - HTTP/1.1 requests need exactly one Host field;
//   - chunked bodies: Beast checks the CRLF after chunk data, the hex size and the extensions; we bound
//     the chunk-size line and refuse trailer fields (they would be merged into the head after the
//     framing checks).
// Limits: a head over max_head_bytes is 431; a body over max_body_bytes is 413 as soon as the
// Content-Length or the chunk sizes say so, before the body is read.
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace g4::server {

struct HttpRequest {
  std::string method;   // "GET", "POST", ...
  std::string target;   // as sent: "/v1/models?x=1"
  std::string path;     // target without the query ("*" for OPTIONS *; absolute-form reduced to its path)
  std::string query;    // after '?', raw
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  std::map<std::string, std::string> headers;  // lower-case names; repeated headers joined with ", "
  std::string body;
  std::string remote;   // "ip:port"
  bool keep_alive = true;  // what the version and Connection header ask for

  // The header's value or "" (name in lower case).
  std::string header(const std::string& name) const;
};

struct HttpParseLimits {
  size_t max_head_bytes = 64u << 10;  // request line + fields; more: 431
  size_t max_body_bytes = 32u << 20;  // decoded body; more: 413
  size_t max_line_bytes = 8u << 10;   // one chunk-size line or the trailer section; more: 400
};

// Parses the requests of one connection, one at a time. Feed it the connection's unconsumed bytes;
// it says how many it used. After a request is done (or refused), reset() before the next one.
class HttpRequestParser {
 public:
  enum class State {
    Idle,      // nothing of a request seen yet (only empty lines, which are skipped)
    Head,      // part of a head
    Body,      // head accepted, body incomplete
    Done,      // a whole request: take() it
    Error,     // refused: error_status() and error_message(); the connection must be closed
  };

  explicit HttpRequestParser(HttpParseLimits limits = {});
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from the start of `data` (everything not consumed before, plus what arrived since). Returns
  // the number of bytes consumed; the caller drops them and passes the rest (and more) next time.
  size_t feed(std::string_view data);

  State state() const { return state_; }
  // True once the head is accepted and a body is still to come that the client said it will send
  // only after "100 Continue" (Expect: 100-continue).
  bool wants_continue() const;
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

  // The finished request (state Done). The parser must be reset() before it is fed again.
  HttpRequest take();
  void reset();

 private:
  struct Impl;
  size_t feed_head(std::string_view data);
  size_t feed_body(std::string_view data);
  bool check_head_bytes(std::string_view head);
  bool check_fields();
  void fail(int status, std::string message);

  HttpParseLimits limits_;
  std::unique_ptr<Impl> impl_;
  State state_ = State::Idle;
  size_t scanned_ = 0;  // bytes of the pending head already scanned for its end
  size_t head_fields_ = 0;
  bool expect_continue_ = false;
  bool ext_too_long_ = false;
  int error_status_ = 0;
  std::string error_message_;
  HttpRequest req_;
};

const char* http_status_text(int status);

}  // namespace g4::server

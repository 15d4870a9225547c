// The request parser on its own (no sockets): what it accepts, and the status it refuses the rest
// with. The refusals are RFC 9112's framing rules; each would let a request be smuggled past a proxy
// that reads the framing the other way, or is a byte the grammar has no place for.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/http_parser.h"

namespace {

using g4::server::HttpParseLimits;
using g4::server::HttpRequest;
using g4::server::HttpRequestParser;
using State = HttpRequestParser::State;
using namespace std::string_literals;

struct Outcome {
  State state = State::Idle;
  int status = 0;  // error status when state == Error
  std::string message;
  HttpRequest req;
  size_t consumed = 0;
};

// Feeds `bytes` as a connection would (the unconsumed rest plus `step` new bytes at a time).
Outcome parse(const std::string& bytes, size_t step = 0, HttpParseLimits limits = {}) {
  HttpRequestParser p(limits);
  Outcome o;
  std::string pending;
  size_t pos = 0;
  if (step == 0) step = bytes.size();
  while (pos < bytes.size()) {
    pending += bytes.substr(pos, step);
    pos += step;
    size_t used = p.feed(pending);
    o.consumed += used;
    pending.erase(0, used);
    if (p.state() == State::Done || p.state() == State::Error) break;
  }
  o.state = p.state();
  if (o.state == State::Error) {
    o.status = p.error_status();
    o.message = p.error_message();
  }
  if (o.state == State::Done) o.req = p.take();
  return o;
}

const std::string kHost = "Host: x\r\n";

TEST(HttpParser, AcceptsPlainRequests) {
  Outcome o = parse("GET /v1/models?a=1 HTTP/1.1\r\nHost: localhost\r\nX-Thing: a b\t c\r\n\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.method, "GET");
  EXPECT_EQ(o.req.path, "/v1/models");
  EXPECT_EQ(o.req.query, "a=1");
  EXPECT_EQ(o.req.version, "HTTP/1.1");
  EXPECT_EQ(o.req.header("x-thing"), "a b\t c");
  EXPECT_TRUE(o.req.keep_alive);

  o = parse("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.body, "hello");
  EXPECT_FALSE(o.req.keep_alive);

  // HTTP/1.0 needs no Host and closes by default.
  o = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.version, "HTTP/1.0");
  EXPECT_FALSE(o.req.keep_alive);

  // Empty lines before a request are skipped; absolute-form targets are reduced to their path.
  o = parse("\r\n\r\nGET http://example.com:8080/health?x HTTP/1.1\r\n" + kHost + "\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.path, "/health");
  EXPECT_EQ(o.req.query, "x");

  o = parse("OPTIONS * HTTP/1.1\r\n" + kHost + "\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.path, "*");
}

TEST(HttpParser, ChunkedBodies) {
  const std::string head = "POST /e HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
  Outcome o = parse(head + "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\n\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.body, "hello world");
  // Transfer codings are case-insensitive; OWS around a field value is not part of it.
  o = parse("POST /e HTTP/1.1\r\n" + kHost + "Transfer-Encoding:  Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.body, "abc");
}

TEST(HttpParser, ByteByByteGivesTheSameRequest) {
  const std::string raw = "POST /e?q HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                          "a\r\n0123456789\r\n1\r\nX\r\n0\r\n\r\n";
  for (size_t step : {size_t(1), size_t(2), size_t(3), size_t(7)}) {
    Outcome o = parse(raw, step);
    ASSERT_EQ(o.state, State::Done) << "step " << step << ": " << o.message;
    EXPECT_EQ(o.req.body, "0123456789X") << step;
    EXPECT_EQ(o.consumed, raw.size()) << step;
  }
}

TEST(HttpParser, StopsAtTheEndOfARequest) {
  // Pipelining: the second request stays unconsumed for the next round.
  const std::string first = "POST /a HTTP/1.1\r\n" + kHost + "Content-Length: 2\r\n\r\nhi";
  const std::string second = "GET /b HTTP/1.1\r\n" + kHost + "\r\n";
  HttpRequestParser p;
  std::string buf = first + second;
  size_t used = p.feed(buf);
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(used, first.size());
  EXPECT_EQ(p.take().body, "hi");
  p.reset();
  buf.erase(0, used);
  EXPECT_EQ(p.feed(buf), second.size());
  ASSERT_EQ(p.state(), State::Done);
  EXPECT_EQ(p.take().path, "/b");
}

TEST(HttpParser, ExpectContinue) {
  HttpRequestParser p;
  std::string head = "POST /e HTTP/1.1\r\n" + kHost + "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n";
  EXPECT_EQ(p.feed(head), head.size());
  EXPECT_EQ(p.state(), State::Body);
  EXPECT_TRUE(p.wants_continue());
  EXPECT_EQ(p.feed("abc"), 3u);
  EXPECT_EQ(p.state(), State::Done);
  EXPECT_EQ(parse("POST /e HTTP/1.1\r\n" + kHost + "Content-Length: 3\r\nExpect: 200-ok\r\n\r\nabc").status, 417);
}

struct Bad {
  const char* what;
  std::string bytes;
  int status;
};

std::vector<Bad> smuggling_cases() {
  const std::string post = "POST /e HTTP/1.1\r\n" + kHost;
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  return {
      // Content-Length together with Transfer-Encoding, in both orders.
      {"CL then TE", post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE then CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400},
      {"TE identity with CL", post + "Transfer-Encoding: identity\r\nContent-Length: 4\r\n\r\nabcd", 400},
      // Transfer-Encoding other than one "chunked".
      {"TE list chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
      {"TE identity", post + "Transfer-Encoding: identity\r\n\r\n", 400},
      {"TE unknown", post + "Transfer-Encoding: foo\r\n\r\n", 400},
      {"TE repeated header", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE empty", post + "Transfer-Encoding: \r\n\r\n", 400},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
      {"TE chunked with parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
      {"TE quoted", post + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 400},
      {"TE vertical tab", post + "Transfer-Encoding: \x0b" "chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE form feed", post + "Transfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n", 400},
      {"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE obs-fold", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE in HTTP/1.0", "POST /e HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      // Content-Length.
      {"CL repeated, same value", post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
      {"CL repeated, different", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"CL list", post + "Content-Length: 3, 3\r\n\r\nabc", 400},
      {"CL plus sign", post + "Content-Length: +3\r\n\r\nabc", 400},
      {"CL negative", post + "Content-Length: -1\r\n\r\n", 400},
      {"CL hex", post + "Content-Length: 0x3\r\n\r\nabc", 400},
      {"CL inner space", post + "Content-Length: 1 2\r\n\r\n", 400},
      {"CL empty", post + "Content-Length: \r\n\r\n", 400},
      {"CL overflow", post + "Content-Length: 99999999999999999999999999\r\n\r\n", 400},
      // Chunk framing.
      {"chunk data without CRLF", chunked + "5\r\nhelloXX0\r\n\r\n", 400},
      {"chunk data with LF only", chunked + "5\r\nhello\n0\r\n\r\n", 400},
      {"chunk size not hex", chunked + "zz\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size negative", chunked + "-5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size leading space", chunked + " 5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size trailing space", chunked + "5 \r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size 0x prefix", chunked + "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size overflow", chunked + "fffffffffffffffffffff\r\n", 400},
      {"chunk size line bare LF", chunked + "5\nhello\r\n0\r\n\r\n", 400},
      {"chunk size line overlong", chunked + "5;" + std::string(20000, 'a'), 400},
      {"trailer fields", chunked + "0\r\nContent-Length: 5\r\n\r\n", 400},
      // Bytes the field grammar has no place for.
      {"bare LF ends a header", "GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400},
      {"bare LF only lines", "GET / HTTP/1.1\nHost: x\n\n", 400},
      {"bare CR in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n", 400},
      {"NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n"s, 400},
      {"SOH in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\x01" "c\r\n\r\n", 400},
      {"DEL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\x7f" "c\r\n\r\n", 400},
      {"ESC in a value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: \x1b[31m\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n", 400},
      {"space in a name", "GET / HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400},
      {"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n", 400},
      {"non-token name", "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400},
      {"first line folded", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},
      // Request lines.
      {"two words", "GET /\r\nHost: x\r\n\r\n", 400},
      {"double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"extra word", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400},
      {"tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"bad method byte", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"non-ASCII in the target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"relative target", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"asterisk for GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
      {"version junk", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400},
      {"garbage line", "\x01\x02\x03\r\n\r\n", 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"HTTP/9.9", "GET / HTTP/9.9\r\n\r\n", 505},
      // Host.
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  };
}

TEST(HttpParser, RefusesSmugglingAndInvalidBytes) {
  for (const Bad& b : smuggling_cases()) {
    for (size_t step : {size_t(0), size_t(1)}) {
      Outcome o = parse(b.bytes, step);
      EXPECT_EQ(o.state, State::Error) << b.what << " (step " << step << ")";
      EXPECT_EQ(o.status, b.status) << b.what << " (step " << step << "): " << o.message;
    }
  }
}

TEST(HttpParser, Limits) {
  HttpParseLimits small;
  small.max_head_bytes = 1024;
  small.max_body_bytes = 100;
  // A head over the limit: 431, whether it ends or not.
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a');
  EXPECT_EQ(parse(big, 0, small).status, 431);
  EXPECT_EQ(parse(big + "\r\n\r\n", 0, small).status, 431);
  EXPECT_EQ(parse(big, 100, small).status, 431);
  // A body over the limit: 413 from the head alone (Content-Length) or from the first chunk size
  // that crosses it.
  Outcome o = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 0, small);
  EXPECT_EQ(o.status, 413);
  o = parse("POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", 0, small);
  EXPECT_EQ(o.status, 413);
  o = parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'a') + "\r\n40\r\n", 0, small);
  EXPECT_EQ(o.status, 413);
  o = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b'), 0, small);
  ASSERT_EQ(o.state, State::Done) << o.message;
  EXPECT_EQ(o.req.body.size(), 100u);
}

}  // namespace

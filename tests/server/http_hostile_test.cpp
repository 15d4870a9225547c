// Hostile clients against the HTTP layer (HttpServer with a small test handler, in this process, with
// short timeouts): smuggling probes, slowloris variants, idle floods past the connection cap, oversized
// heads and bodies, aborts mid-request and mid-stream, pipelining, a saturated handler pool, a client
// that stops reading, graceful shutdown. After each case a normal request must still be served and this
// process's descriptors and threads must come back to what they were.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/http_server.h"
#include "server/http_test_util.h"

namespace {

using namespace g4::server;
using namespace g4::test;
using namespace std::chrono_literals;
using namespace std::string_literals;

struct Counters {
  std::atomic<int> handled{0}, smuggled{0}, gone{0}, write_failed{0}, stream_shutdown{0};
};

HttpHandler test_handler(std::shared_ptr<Counters> c) {
  return [c](const HttpRequest& req, HttpResponse& res) {
    ++c->handled;
    if (req.path == "/ok") {
      res.send(200, "text/plain", "ok");
    } else if (req.path == "/echo") {
      res.send(200, "application/octet-stream", req.body);
    } else if (req.path == "/smuggled") {
      ++c->smuggled;
      res.send(200, "text/plain", "smuggled");
    } else if (req.path == "/sleep") {
      // Holds a handler thread (like a generation waiting for tokens) until told to stop.
      for (int i = 0; i < 50 && !res.shutting_down() && !res.client_gone(); ++i) std::this_thread::sleep_for(20ms);
      res.send(200, "text/plain", "slept");
    } else if (req.path == "/stream") {
      if (!res.start_stream(200, "text/event-stream")) return;
      const int n = req.query.rfind("n=", 0) == 0 ? std::atoi(req.query.c_str() + 2) : 1000;
      for (int i = 0; i < n; ++i) {
        if (res.shutting_down()) {
          ++c->stream_shutdown;
          res.write("data: {\"error\":\"shutting down\"}\n\n");
          res.write("data: [DONE]\n\n");
          return;
        }
        if (res.client_gone() || !res.write("data: " + std::to_string(i) + "\n\n")) {
          ++c->gone;
          return;
        }
        std::this_thread::sleep_for(10ms);
      }
    } else if (req.path == "/flood") {
      // Writes until the client (which never reads) makes a write fail.
      if (!res.start_stream(200, "application/octet-stream")) return;
      std::string block(64 << 10, 'x');
      for (int i = 0; i < 100000; ++i)
        if (!res.write(block)) {
          ++c->write_failed;
          return;
        }
    } else {
      res.send(404, "text/plain", "no");
    }
  };
}

HttpServerOptions short_options() {
  HttpServerOptions o;
  o.port = 0;
  o.idle_timeout_ms = 1500;
  o.request_timeout_ms = 700;
  o.write_timeout_ms = 700;
  o.max_connections = 64;
  o.workers = 8;
  o.queue = 8;
  o.max_body_bytes = 1 << 20;
  return o;
}

class HttpHostile : public ::testing::Test {
 protected:
  void start(HttpServerOptions o = short_options()) {
    fds0_ = open_fds();
    threads0_ = threads();
    opt_ = o;
    server_ = std::make_unique<HttpServer>(o, test_handler(c_));
    server_->start();
    port_ = server_->port();
    fds_started_ = open_fds();
  }
  void TearDown() override {
    if (server_) server_->stop(1000);
    server_.reset();
    // Every server thread is joined and every server socket closed.
    EXPECT_EQ(threads(), threads0_);
    EXPECT_TRUE(settles([&] { return open_fds() <= fds0_; })) << open_fds() << " fds, " << fds0_ << " before";
  }

  // Waits (briefly) for a condition that the server reaches asynchronously.
  template <class F>
  static bool settles(F f, int ms = 5000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!f()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // A normal request on a new connection is answered, and the server holds no more descriptors and
  // threads than its open connections and handler threads explain.
  // `client_fds`: descriptors the test itself holds open.
  void expect_healthy(const std::string& where, int client_fds = 0) {
    Response r = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    EXPECT_EQ(r.status, 200) << where;
    EXPECT_EQ(r.body, "ok") << where;
    EXPECT_TRUE(settles([&] { return open_fds() <= fds_started_ + client_fds + server_->stats().connections; }))
        << where << ": " << open_fds() << " fds, " << fds_started_ << " with the server started, "
        << server_->stats().connections << " connections, " << client_fds << " held by the test";
    EXPECT_LE(threads(), threads0_ + 1 + opt_.workers) << where;
  }

  std::shared_ptr<Counters> c_ = std::make_shared<Counters>();
  std::unique_ptr<HttpServer> server_;
  HttpServerOptions opt_;
  int port_ = 0, fds0_ = 0, fds_started_ = 0, threads0_ = 0;
};

struct Probe {
  const char* what;
  std::string bytes;
  int status;
};

// Each probe hides a request to /smuggled where a server reading the framing differently would see
// one. Every one must be refused, the connection closed, and /smuggled never reached.
std::vector<Probe> smuggling_probes() {
  const std::string hidden = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string post = "POST /echo HTTP/1.1\r\nHost: x\r\n";
  return {
      {"CL + TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE + CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE identity", post + "Transfer-Encoding: identity\r\n\r\n" + hidden, 400},
      {"TE unknown + CL", post + "Transfer-Encoding: foo\r\nContent-Length: 36\r\n\r\n" + hidden, 400},
      {"TE twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE with tab junk", post + "Transfer-Encoding: chunked\t,\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE obs-fold", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden, 400},
      {"CL twice, same", post + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + hidden, 400},
      {"CL twice, different", post + "Content-Length: 0\r\nContent-Length: 36\r\n\r\n" + hidden, 400},
      {"CL list", post + "Content-Length: 36, 0\r\n\r\n" + hidden, 400},
      {"CL non-digit", post + "Content-Length: 3a\r\n\r\n" + hidden, 400},
      {"CL overflow", post + "Content-Length: 18446744073709551617\r\n\r\n" + hidden, 400},
      {"chunk data not followed by CRLF", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n" + hidden, 400},
      {"bad chunk size", post + "Transfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n" + hidden, 400},
      {"overlong chunk-size line", post + "Transfer-Encoding: chunked\r\n\r\n1;" + std::string(12000, 'e') + "\r\nx\r\n0\r\n\r\n" + hidden, 400},
      {"bare LF in a header line", "POST /echo HTTP/1.1\r\nHost: x\nContent-Length: 36\r\n\r\n" + hidden, 400},
      {"bare CR in a value", post + "X-A: 1\rContent-Length: 36\r\n\r\n" + hidden, 400},
      {"NUL in a value", post + "X-A: a\0b\r\n\r\n"s + hidden, 400},
      {"obs-fold", post + "X-A: a\r\n b\r\n\r\n" + hidden, 400},
      {"malformed request line", "POST  /echo HTTP/1.1\r\nHost: x\r\n\r\n" + hidden, 400},
      {"HTTP/2 version", "GET /ok HTTP/2.0\r\nHost: x\r\n\r\n" + hidden, 505},
      {"no Host", "GET /ok HTTP/1.1\r\n\r\n" + hidden, 400},
  };
}

TEST_F(HttpHostile, SmugglingProbesAreRefusedAndClosed) {
  start();
  for (const Probe& p : smuggling_probes()) {
    int fd = connect_to(port_, 3000);
    ASSERT_GE(fd, 0);
    send_all(fd, p.bytes);
    std::string got;
    EXPECT_TRUE(closed_within(fd, 3000, &got)) << p.what << ": the connection stays open";
    ::close(fd);
    Response r = take_response(got);
    EXPECT_EQ(r.status, p.status) << p.what << ": " << got;
    EXPECT_EQ(r.header("Connection"), "close") << p.what;
    EXPECT_TRUE(got.empty()) << p.what << ": more than one response: " << got;
  }
  EXPECT_EQ(c_->smuggled.load(), 0);
  expect_healthy("after smuggling probes");
}

TEST_F(HttpHostile, PipelinedRequestsAreAnsweredInOrder) {
  start();
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirstGET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
               "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nthird!\r\n0\r\n\r\n");
  std::string buf;
  Response a = read_response(fd, buf), b = read_response(fd, buf), c = read_response(fd, buf);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "first");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(b.body, "ok");
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.body, "third!");
  EXPECT_TRUE(closed_within(fd, 3000));
  ::close(fd);
  // Many requests in one write: answered one at a time, in order, with bounded buffering.
  fd = connect_to(port_);
  std::string many;
  for (int i = 0; i < 100; ++i) many += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(std::to_string(i).size()) + "\r\n\r\n" + std::to_string(i);
  send_all(fd, many);
  buf.clear();
  for (int i = 0; i < 100; ++i) {
    Response r = read_response(fd, buf);
    ASSERT_EQ(r.status, 200) << i;
    ASSERT_EQ(r.body, std::to_string(i));
  }
  ::close(fd);
  expect_healthy("after pipelining");
}

TEST_F(HttpHostile, Http10AndAbsoluteForm) {
  start();
  // HTTP/1.0 has no chunked encoding: a stream is delimited by closing the connection.
  int fd = connect_to(port_);
  send_all(fd, "GET /stream?n=3 HTTP/1.0\r\n\r\n");
  std::string got = read_all(fd);
  ::close(fd);
  Response r = take_response(got);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Transfer-Encoding"), "");
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(r.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  // HTTP/1.0 keep-alive on request; a plain 1.0 request closes.
  fd = connect_to(port_);
  send_all(fd, "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string buf;
  r = read_response(fd, buf);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.header("Connection"), "keep-alive");
  send_all(fd, "GET /ok HTTP/1.0\r\n\r\n");
  r = read_response(fd, buf);
  EXPECT_EQ(r.body, "ok");
  EXPECT_TRUE(closed_within(fd, 3000));
  ::close(fd);
  // The absolute form of a target (as sent to proxies) is served by its path.
  r = request_once(port_, "GET http://localhost:1234/ok?x=1 HTTP/1.1\r\nHost: localhost:1234\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.body, "ok");
  expect_healthy("after HTTP/1.0 and absolute-form requests");
}

TEST_F(HttpHostile, KeepAliveContinueAndHead) {
  start();
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  std::string buf;
  char tmp[256];
  while (buf.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    ASSERT_GT(n, 0);
    buf.append(tmp, size_t(n));
  }
  EXPECT_EQ(buf.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << buf;
  buf.erase(0, 25);
  send_all(fd, "body");
  Response r = read_response(fd, buf);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "body");
  send_all(fd, "HEAD /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  r = read_response(fd, buf, /*head_request=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Length"), "2");
  send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  r = read_response(fd, buf);
  EXPECT_EQ(r.body, "ok") << "a HEAD response must not carry a body";
  ::close(fd);
  expect_healthy("after keep-alive");
}

TEST_F(HttpHostile, SlowlorisTrickledHeadGets408) {
  start();
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  // One byte every 50 ms would take 4 s; the whole head has 700 ms, however steadily bytes arrive.
  const std::string head = "GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(60, 'a') + "\r\n\r\n";
  size_t sent = 0;
  std::string got;
  for (; sent < head.size(); ++sent) {
    if (!send_all(fd, head.substr(sent, 1))) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) break;
    // A normal client is served meanwhile.
    if (sent == 5) expect_healthy("while a head trickles", 1);
  }
  EXPECT_LT(sent, head.size()) << "the trickled head was read to its end";
  EXPECT_TRUE(closed_within(fd, 3000, &got));
  ::close(fd);
  EXPECT_EQ(take_response(got).status, 408) << got;
  expect_healthy("after a trickled head");
}

TEST_F(HttpHostile, SlowlorisTrickledBodyGets408) {
  start();
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  size_t sent = 0;
  for (; sent < 100; ++sent) {
    if (!send_all(fd, "b")) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) break;
  }
  EXPECT_LT(sent, 100u) << "the trickled body was read to its end";
  std::string got;
  EXPECT_TRUE(closed_within(fd, 3000, &got));
  ::close(fd);
  EXPECT_EQ(take_response(got).status, 408) << got;
  EXPECT_EQ(c_->handled.load(), 0);
  expect_healthy("after a trickled body");
}

TEST_F(HttpHostile, IdleKeepAliveConnectionsAreClosed) {
  HttpServerOptions o = short_options();
  o.idle_timeout_ms = 400;
  start(o);
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string buf;
  EXPECT_EQ(read_response(fd, buf).status, 200);
  EXPECT_TRUE(closed_within(fd, 5000)) << "an idle keep-alive connection stayed open";
  ::close(fd);
  int silent = connect_to(port_);  // connects and never says anything
  EXPECT_TRUE(closed_within(silent, 5000));
  ::close(silent);
  expect_healthy("after idle connections");
}

TEST_F(HttpHostile, IdleAndTricklingClientsPastTheCapDoNotLockOthersOut) {
  HttpServerOptions o = short_options();
  o.max_connections = 20;
  o.idle_timeout_ms = 60000;  // nothing times out during the test: room must come from eviction
  o.request_timeout_ms = 60000;
  start(o);
  std::vector<int> fds;
  for (int i = 0; i < 50; ++i) {
    int fd = connect_to(port_, 2000);
    ASSERT_GE(fd, 0);
    if (i % 3 == 0) send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Partial: ");  // a head that never ends
    fds.push_back(fd);
  }
  EXPECT_TRUE(settles([&] { return server_->stats().connections <= 20; }));
  expect_healthy("with 50 idle or trickling connections and a cap of 20", 50);
  // A keep-alive client that asks again is served too.
  int fd = connect_to(port_);
  std::string buf;
  send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(fd, buf).status, 200);
  send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(read_response(fd, buf).status, 200);
  ::close(fd);
  EXPECT_GE(server_->stats().evicted, 30);
  EXPECT_LE(server_->stats().connections, 20);
  for (int f : fds) ::close(f);
  expect_healthy("after the flood");
}

TEST_F(HttpHostile, ThreeHundredIdleConnections) {
  HttpServerOptions o = short_options();
  o.max_connections = 512;
  o.idle_timeout_ms = 60000;
  start(o);
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {
    int fd = connect_to(port_, 2000);
    ASSERT_GE(fd, 0) << i;
    fds.push_back(fd);
  }
  EXPECT_TRUE(settles([&] { return server_->stats().connections == 300; })) << server_->stats().connections;
  expect_healthy("with 300 idle connections", 300);
  EXPECT_LE(threads(), threads0_ + 1 + opt_.workers) << "connections must not cost threads";
  for (int f : fds) ::close(f);
  EXPECT_TRUE(settles([&] { return server_->stats().connections == 0; }));
  expect_healthy("after 300 idle connections");
}

TEST_F(HttpHostile, OversizedHeadsAndBodies) {
  start();
  // A head over 64 KiB: 431, whether or not it ends.
  Response r = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 << 10, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  r = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 << 10, 'a'));
  EXPECT_EQ(r.status, 431);
  r = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\n" + std::string(2000, 'X') + ": " + std::string(40, 'v') + "\r\n" +
                              [] {
                                std::string many;
                                for (int i = 0; i < 8000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
                                return many;
                              }() + "\r\n");
  EXPECT_EQ(r.status, 431);
  // A body over the limit is refused from its head alone: nothing of it is sent.
  r = request_once(port_, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  r = request_once(port_, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6400000\r\nabc");
  EXPECT_EQ(r.status, 413);
  // Chunks that add up past the limit.
  std::string chunks;
  for (int i = 0; i < 20; ++i) chunks += "10000\r\n" + std::string(0x10000, 'c') + "\r\n";
  r = request_once(port_, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(c_->handled.load(), 0);
  // Just under the limit is fine.
  std::string body((1 << 20) - 10, 'd');
  r = request_once(port_, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), body.size());
  expect_healthy("after oversized requests");
}

TEST_F(HttpHostile, AbortsMidRequest) {
  start();
  const std::vector<std::string> partial = {
      "GET /ok HTTP/1.1\r\nHo",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf a body",
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n",
  };
  for (bool reset : {false, true}) {
    for (const std::string& p : partial) {
      int fd = connect_to(port_);
      ASSERT_GE(fd, 0);
      send_all(fd, p);
      std::this_thread::sleep_for(20ms);
      if (reset) {  // an abortive close (RST) instead of FIN
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      }
      ::close(fd);
    }
  }
  EXPECT_TRUE(settles([&] { return server_->stats().connections == 0; }));
  EXPECT_EQ(c_->handled.load(), 0);
  expect_healthy("after aborted requests");
}

TEST_F(HttpHostile, AbortMidStreamIsSeenByTheHandler) {
  start();
  for (bool reset : {false, true}) {
    int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    char tmp[4096];
    while (got.find("data: 2") == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      ASSERT_GT(n, 0);
      got.append(tmp, size_t(n));
    }
    if (reset) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::close(fd);
    const int want = reset ? 2 : 1;
    EXPECT_TRUE(settles([&] { return c_->gone.load() == want; })) << "the handler did not notice the client leaving";
  }
  EXPECT_TRUE(settles([&] { return server_->stats().handlers == 0; }));
  expect_healthy("after aborted streams");
}

TEST_F(HttpHostile, ClientThatStopsReadingIsDropped) {
  start();
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  send_all(fd, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
  // Never read: the server's writes stall, and the write deadline ends the handler.
  EXPECT_TRUE(settles([&] { return c_->write_failed.load() == 1; }, 10000));
  expect_healthy("while a client refuses to read", 1);
  ::close(fd);
  EXPECT_TRUE(settles([&] { return server_->stats().handlers == 0; }));
  expect_healthy("after a client that stopped reading");
}

TEST_F(HttpHostile, SaturatedHandlersAnswer503WithoutBlockingIO) {
  HttpServerOptions o = short_options();
  o.workers = 2;
  o.queue = 1;
  o.request_timeout_ms = 5000;
  start(o);
  std::vector<int> sleepers;
  for (int i = 0; i < 3; ++i) {  // two run, one waits
    int fd = connect_to(port_);
    send_all(fd, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
    sleepers.push_back(fd);
  }
  EXPECT_TRUE(settles([&] { return server_->stats().handlers == 3; }));
  Response busy = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.header("Retry-After"), "1");
  // The I/O thread still reads, parses and refuses while every handler thread is busy.
  Response bad = request_once(port_, "GET /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 3000);
  EXPECT_EQ(bad.status, 400);
  for (int fd : sleepers) {
    std::string buf;
    EXPECT_EQ(read_response(fd, buf).status, 200);
    ::close(fd);
  }
  EXPECT_GE(server_->stats().rejected, 1);
  EXPECT_LE(server_->stats().worker_threads, 2);
  expect_healthy("after saturation");
}

TEST_F(HttpHostile, GracefulStopEndsStreamsAndJoinsThreads) {
  start();
  int stream = connect_to(port_);
  ASSERT_GE(stream, 0);
  send_all(stream, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got;
  char tmp[4096];
  while (got.find("data: 1") == std::string::npos) {
    ssize_t n = ::recv(stream, tmp, sizeof tmp, 0);
    ASSERT_GT(n, 0);
    got.append(tmp, size_t(n));
  }
  int idle = connect_to(port_);
  ASSERT_GE(idle, 0);
  EXPECT_TRUE(settles([&] { return server_->stats().connections == 2; }));
  std::thread stopper([&] { server_->stop(3000); });
  EXPECT_TRUE(closed_within(stream, 5000, &got));
  EXPECT_TRUE(closed_within(idle, 5000));
  stopper.join();
  ::close(stream);
  ::close(idle);
  EXPECT_EQ(c_->stream_shutdown.load(), 1);
  Response r = take_response(got);
  EXPECT_TRUE(r.complete) << "the stream did not end with its last chunk: " << got;
  EXPECT_NE(r.body.find("data: [DONE]\n\n"), std::string::npos);
  // New clients are refused once stopped.
  EXPECT_LT(connect_to(port_), 0);
  server_.reset();
}

}  // namespace

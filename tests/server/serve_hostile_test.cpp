// Hostile clients against `gemma4 serve` itself (the demo model: random weights, real vocabulary and
// chat template): smuggling probes, the JSON-only body rule, CORS off by default and on with --cors,
// a JSON bomb, hundreds of idle connections, and graceful shutdown on SIGTERM (an open stream ends
// with [DONE] and its last chunk, the process exits 0). After each case the server must still answer
// /health and its descriptors and threads (/proc/<pid>) must stay bounded.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/http_test_util.h"
#include "test_util.h"

namespace {

using namespace g4::test;
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A `gemma4 serve` child process on a free port (killed with this process: PR_SET_PDEATHSIG).
struct Serve {
  pid_t pid = -1;
  int port = 0;
  std::string log;

  bool start(const std::vector<std::string>& args, const std::string& log_path) {
    log = log_path;
    int fds[2];
    if (pipe(fds) != 0) return false;
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      dup2(fds[1], 1);
      int lf = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (lf >= 0) dup2(lf, 2);
      close(fds[0]);
      std::vector<char*> argv{const_cast<char*>(G4_BINARY), const_cast<char*>("serve")};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(G4_BINARY, argv.data());
      _exit(127);
    }
    close(fds[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline && port == 0) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) > 0) {
        char buf[512];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, size_t(n));
        size_t at = out.find("listening on http://");
        if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
          std::string line = out.substr(at, out.find('\n', at) - at);
          port = std::atoi(line.substr(line.rfind(':') + 1).c_str());
        }
      }
    }
    close(fds[0]);
    return port > 0;
  }

  bool alive() const { return pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0; }

  // Sends `sig` and waits up to `ms` for the exit. Returns the exit status (-1: still running, then killed).
  int signal_and_wait(int sig, int ms) {
    if (pid <= 0) return -1;
    kill(pid, sig);
    for (int waited = 0; waited < ms; waited += 20) {
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
    return -1;
  }
};

class ServeHostile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-serve-hostile-XXXXXX";
    dir_ = mkdtemp(tmpl);
    model_ = dir_ + "/demo";
    auto r = run_cli("demo-model --out " + model_);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(server_.start({"--model", model_, "--port", "0", "--parallel", "2", "--ctx", "512", "--prefill-chunk", "64"},
                              dir_ + "/server.log"))
        << slurp(dir_ + "/server.log");
  }
  static void TearDownTestSuite() {
    server_.signal_and_wait(SIGKILL, 5000);
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  void TearDown() override {
    if (HasFailure()) {
      std::string log = slurp(server_.log);
      std::cerr << "---- server log (tail) ----\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
    }
  }

  static std::string pid() { return std::to_string(server_.pid); }

  static void expect_healthy(const std::string& where, int port = server_.port) {
    Response r = request_once(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000);
    EXPECT_EQ(r.status, 200) << where;
    EXPECT_NE(r.body.find("\"ok\""), std::string::npos) << where << ": " << r.body;
  }

  static Response post_chat(int port, const std::string& body, const std::string& content_type, const std::string& extra = "") {
    std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra;
    if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
    return request_once(port, head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body, 60000);
  }

  static inline std::string dir_, model_;
  static inline Serve server_;
};

const std::string kSmallChat = R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":1,"temperature":0})";

// One test process per TEST (ctest), each with its own server: the cheap cases share one.
TEST_F(ServeHostile, SmugglingProbesJsonOnlyBodiesAndNoCors) {
  const std::string hidden = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string post = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  const std::vector<std::pair<std::string, std::string>> probes = {
      {"CL + TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
      {"TE chunked, chunked", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + hidden},
      {"TE identity", post + "Transfer-Encoding: identity\r\n\r\n" + hidden},
      {"CL twice", post + "Content-Length: 0\r\nContent-Length: 38\r\n\r\n" + hidden},
      {"chunk without CRLF", post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n" + hidden},
      {"bare LF", "POST /v1/chat/completions HTTP/1.1\r\nHost: x\nContent-Length: 38\r\n\r\n" + hidden},
      {"obs-fold", post + "X-A: 1\r\n\tContent-Length: 38\r\n\r\n" + hidden},
  };
  for (const auto& [what, bytes] : probes) {
    int fd = connect_to(server_.port, 5000);
    ASSERT_GE(fd, 0);
    send_all(fd, bytes);
    std::string got;
    EXPECT_TRUE(closed_within(fd, 5000, &got)) << what;
    ::close(fd);
    Response r = take_response(got);
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    EXPECT_TRUE(got.empty()) << what << ": a second response: " << got;
  }
  expect_healthy("after smuggling probes");

  // POST bodies must be JSON.
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "text/plain").status, 415);
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "").status, 415);
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "application/x-www-form-urlencoded").status, 415);
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "application/json; charset=latin1").status, 415);
  Response r = post_chat(server_.port, kSmallChat, "text/plain");
  EXPECT_NE(r.body.find("application/json"), std::string::npos) << r.body;
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "application/json; charset=utf-8").status, 200);
  EXPECT_EQ(post_chat(server_.port, kSmallChat, "Application/JSON").status, 200);

  // No CORS headers unless --cors asks for them.
  r = request_once(server_.port, "GET /health HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  r = request_once(server_.port,
                   "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
                   "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "");
}

TEST_F(ServeHostile, JsonBombsIdleFloodsAndOversizedRequests) {
  // ~200 KB of nesting in a message's content, and in the body itself.
  const int depth = 100000;
  std::string nested = std::string(depth, '[') + std::string(depth, ']');
  Response r = post_chat(server_.port, R"({"model":"demo","messages":[{"role":"user","content":)" + nested + "}]}", "application/json");
  EXPECT_GE(r.status, 400) << r.body.substr(0, 300);
  EXPECT_LT(r.status, 500) << r.body.substr(0, 300);
  std::string objects;
  for (int i = 0; i < depth / 2; ++i) objects += "{\"a\":";
  objects += "1" + std::string(depth / 2, '}');
  r = post_chat(server_.port, objects, "application/json");
  EXPECT_GE(r.status, 400);
  EXPECT_LT(r.status, 500);
  EXPECT_TRUE(server_.alive());
  expect_healthy("after JSON bombs");

  // Hundreds of idle and trickling connections, oversized heads and bodies.
  const int fds_before = open_fds(pid()), threads_before = threads(pid());
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    int fd = connect_to(server_.port, 5000);
    ASSERT_GE(fd, 0);
    if (i % 2) send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");  // a head that never ends
    idle.push_back(fd);
  }
  expect_healthy("with 300 idle or trickling connections");
  EXPECT_LE(threads(pid()), threads_before + 2) << "connections must not cost threads";
  EXPECT_LE(open_fds(pid()), fds_before + 302);
  // Oversized head and body meanwhile.
  Response big = request_once(server_.port, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 << 10, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.status, 431);
  big = request_once(server_.port,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 33554433\r\n\r\n");
  EXPECT_EQ(big.status, 413);
  for (int fd : idle) ::close(fd);
  bool settled = false;
  for (int i = 0; i < 250 && !settled; ++i) {
    settled = open_fds(pid()) <= fds_before + 1;
    if (!settled) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(settled) << open_fds(pid()) << " descriptors, " << fds_before << " before";
  expect_healthy("after the idle connections left");
}

// A server of its own with --cors, then SIGTERM while a stream and a plain request are open.
TEST_F(ServeHostile, CorsOnRequestAndGracefulShutdown) {
  Serve s;
  ASSERT_TRUE(s.start({"--model", model_, "--port", "0", "--parallel", "2", "--ctx", "512", "--cors", "http://app.example"},
                      dir_ + "/cors.log"))
      << slurp(dir_ + "/cors.log");
  Response pre = request_once(s.port,
                              "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
                              "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n"
                              "Connection: close\r\n\r\n");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), "http://app.example");
  EXPECT_NE(pre.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_EQ(pre.header("Access-Control-Allow-Headers"), "authorization, content-type");
  EXPECT_EQ(pre.header("Vary"), "Origin");
  Response other = request_once(s.port,
                                "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
                                "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.header("Access-Control-Allow-Origin"), "");
  Response get = request_once(s.port, "GET /health HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "http://app.example");
  get = request_once(s.port, "GET /health HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "");

  // A stream that would run until the context is full.
  const std::string body = R"({"model":"demo","messages":[{"role":"user","content":"Go on"}],"temperature":0,"stream":true})";
  int stream = connect_to(s.port, 20000);
  ASSERT_GE(stream, 0);
  send_all(stream, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string got;
  char buf[4096];
  int events = 0;
  while (events < 3) {
    ssize_t n = recv(stream, buf, sizeof buf, 0);
    ASSERT_GT(n, 0) << got;
    got.append(buf, size_t(n));
    events = 0;
    for (size_t at = got.find("data: "); at != std::string::npos; at = got.find("data: ", at + 1)) ++events;
  }
  int idle = connect_to(s.port, 20000);
  ASSERT_GE(idle, 0);
  const int status = s.signal_and_wait(SIGTERM, 10000);
  EXPECT_EQ(status, 0) << slurp(dir_ + "/cors.log");
  EXPECT_TRUE(closed_within(stream, 5000, &got));
  EXPECT_TRUE(closed_within(idle, 5000));
  ::close(stream);
  ::close(idle);
  Response r = take_response(got);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.complete) << "the stream did not end with its last chunk: " << got.substr(got.size() > 600 ? got.size() - 600 : 0);
  const size_t done = r.body.rfind("data: [DONE]\n\n");
  ASSERT_NE(done, std::string::npos) << r.body;
  EXPECT_EQ(done + 14, r.body.size()) << "[DONE] is not the last event";
  EXPECT_NE(r.body.find("shutting down"), std::string::npos) << "the final event does not say why the stream ended";
}

}  // namespace

// Integration test of `gemma4 serve`: starts the server on a free loopback port with the demo model
// (random weights, real Gemma 4 vocabulary and chat template) and drives it over raw sockets and with
// the official `openai` npm package (tests/server/openai_client.cjs). The server is always killed on
// teardown (and by the kernel if this process dies: PR_SET_PDEATHSIG).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
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
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

using Json = nlohmann::json;
const std::string kKey = "test-key-123";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ServerProc {
  pid_t pid = -1;
  int port = 0;
  std::string log_path;

  bool start(const std::vector<std::string>& args, const std::string& log) {
    log_path = log;
    int fds[2];
    if (pipe(fds) != 0) return false;
    pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      dup2(fds[1], 1);
      int lf = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (lf >= 0) dup2(lf, 2);
      close(fds[0]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(G4_BINARY));
      argv.push_back(const_cast<char*>("serve"));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(G4_BINARY, argv.data());
      _exit(127);
    }
    close(fds[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 500) > 0) {
        char buf[512];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, size_t(n));
        size_t at = out.find("listening on http://");
        if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
          std::string line = out.substr(at, out.find('\n', at) - at);
          port = std::atoi(line.substr(line.rfind(':') + 1).c_str());
          break;
        }
      }
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        break;
      }
    }
    close(fds[0]);
    return port > 0;
  }

  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += size_t(n);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

struct Reply {
  int status = 0;
  std::string head, body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

Reply parse_reply(const std::string& raw) {
  Reply r;
  size_t he = raw.find("\r\n\r\n");
  if (raw.size() < 12 || he == std::string::npos) return r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  r.head = raw.substr(0, he);
  std::string rest = raw.substr(he + 4);
  if (r.head.find("Transfer-Encoding: chunked") != std::string::npos) {
    size_t pos = 0;
    for (;;) {
      size_t le = rest.find("\r\n", pos);
      if (le == std::string::npos) break;
      size_t n = std::stoul(rest.substr(pos, le - pos), nullptr, 16);
      if (n == 0) break;
      r.body += rest.substr(le + 2, n);
      pos = le + 2 + n + 2;
    }
  } else {
    r.body = rest;
  }
  return r;
}

// One request on its own connection ("Connection: close").
Reply http(int port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& extra_headers = "Authorization: Bearer " + kKey + "\r\n") {
  int fd = connect_to(port);
  if (fd < 0) return {};
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extra_headers;
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  send_all(fd, req);
  std::string raw = read_all(fd);
  close(fd);
  return parse_reply(raw);
}

double metric(int port, const std::string& name) {
  Reply r = http(port, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  return -1;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-server-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    model_ = dir_ + "/demo";
    auto r = g4::test::run_cli("demo-model --out " + model_);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(server_.start({"--model", model_, "--port", "0", "--parallel", "4", "--ctx", "1024", "--api-key", kKey,
                               "--prefill-chunk", "64"},
                              dir_ + "/server.log"))
        << read_file(dir_ + "/server.log");
  }
  static void TearDownTestSuite() {
    server_.stop();
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- server log (tail) ----\n" << tail(read_file(server_.log_path)) << "\n";
  }
  static std::string tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }
  static int port() { return server_.port; }

  static inline std::string dir_, model_;
  static inline ServerProc server_;
};

TEST_F(ServerTest, HealthModelsAndAuth) {
  Reply h = http(port(), "GET", "/health", "", "");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json()["status"], "ok");
  Reply m = http(port(), "GET", "/v1/models");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(m.json()["data"][0]["id"], "demo");
  Reply noauth = http(port(), "GET", "/v1/models", "", "");
  EXPECT_EQ(noauth.status, 401);
  EXPECT_EQ(noauth.json()["error"]["type"], "authentication_error");
  Reply wrong = http(port(), "GET", "/v1/models", "", "Authorization: Bearer nope\r\n");
  EXPECT_EQ(wrong.status, 401);
  Reply missing = http(port(), "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.json()["error"]["message"].is_string());
}

TEST_F(ServerTest, MalformedHttpDoesNotHurtTheServer) {
  for (const std::string& junk : {std::string("HELLO\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
                                  std::string("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: zz\r\n\r\n"),
                                  std::string("POST /v1/chat/completions HTTP/1.1\r\nbroken header\r\n\r\n"),
                                  std::string("\x01\x02\x03\r\n\r\n")}) {
    int fd = connect_to(port());
    ASSERT_GE(fd, 0);
    send_all(fd, junk);
    Reply r = parse_reply(read_all(fd));
    close(fd);
    EXPECT_GE(r.status, 400) << junk;
  }
  // A client that connects and leaves without a word.
  int fd = connect_to(port());
  close(fd);
  // A huge body is refused before it is read.
  fd = connect_to(port());
  send_all(fd, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n");
  EXPECT_EQ(parse_reply(read_all(fd)).status, 413);
  close(fd);
  EXPECT_EQ(http(port(), "GET", "/health").status, 200);
}

TEST_F(ServerTest, KeepAliveChunkedBodyAndContinue) {
  int fd = connect_to(port());
  ASSERT_GE(fd, 0);
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"temperature":0})";
  std::string chunked;
  for (size_t i = 0; i < body.size(); i += 10) {
    std::string part = body.substr(i, 10);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%zx\r\n", part.size());
    chunked += hex + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  send_all(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kKey +
                   "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
  // 100 Continue first, then the answer; then a second request on the same connection.
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, size_t(n));
  }
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u) << got;
  send_all(fd, chunked);
  send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = got.substr(25) + read_all(fd);
  close(fd);
  Reply first = parse_reply(raw);
  ASSERT_EQ(first.status, 200) << raw;
  size_t second = raw.find("HTTP/1.1 200 OK", 10);
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_NE(raw.find("\"status\":\"ok\""), std::string::npos);
}

TEST_F(ServerTest, RawStreamEndsWithDone) {
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"temperature":0,"stream":true})";
  Reply r = http(port(), "POST", "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.head.find("Content-Type: text/event-stream"), std::string::npos);
  std::istringstream in(r.body);
  std::string line, last;
  int events = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ASSERT_EQ(line.rfind("data: ", 0), 0u) << line;
    last = line.substr(6);
    if (last != "[DONE]") {
      Json j = Json::parse(last, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << line;
      EXPECT_EQ(j["object"], "chat.completion.chunk");
    }
    ++events;
  }
  EXPECT_EQ(last, "[DONE]");
  EXPECT_GE(events, 3);
}

TEST_F(ServerTest, ClientDisconnectCancelsTheSequence) {
  double before = metric(port(), "g4_sequences_total{result=\"cancelled\"}");
  int fd = connect_to(port());
  ASSERT_GE(fd, 0);
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":"Go on forever"}],"temperature":0,"stream":true})";
  send_all(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kKey +
                   "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string got;
  char buf[4096];
  while (got.find("content") == std::string::npos) {  // a generated delta arrived
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, size_t(n));
  }
  close(fd);
  double after = before;
  for (int i = 0; i < 400 && after <= before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    after = metric(port(), "g4_sequences_total{result=\"cancelled\"}");
  }
  EXPECT_GT(after, before);
  Reply r = http(port(), "POST", "/v1/chat/completions", R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServerTest, OpenAINodeClient) {
  if (std::system("node --version > /dev/null 2>&1") != 0) FAIL() << "node is not installed (scripts/install-deps.sh installs it)";
  const std::string src = std::string(G4_SOURCE_DIR) + "/tests/server";
  struct stat st{};
  if (stat((src + "/node_modules/openai/package.json").c_str(), &st) != 0) {
    // scripts/install-deps.sh normally does this.
    int rc = std::system(("cd '" + src + "' && npm install --no-audit --no-fund --loglevel=error >&2").c_str());
    ASSERT_EQ(rc, 0) << "npm install of the openai package failed";
  }
  std::string cmd = "node '" + src + "/openai_client.cjs' http://127.0.0.1:" + std::to_string(port()) + " " + kKey + " demo 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st2 = pclose(p);
  std::cout << out;
  EXPECT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0) << out;
  EXPECT_NE(out.find(" passed, 0 failed"), std::string::npos);
}

// A second server with one slot and no queue: while one stream runs, another request gets 503.
TEST_F(ServerTest, FullQueueAnswers503) {
  ServerProc small;
  ASSERT_TRUE(small.start({"--model", model_, "--port", "0", "--parallel", "1", "--queue", "0", "--ctx", "512", "--quiet"},
                          dir_ + "/small.log"))
      << read_file(dir_ + "/small.log");
  int fd = connect_to(small.port);
  ASSERT_GE(fd, 0);
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":"Go on"}],"temperature":0,"stream":true})";
  send_all(fd, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string got;
  char buf[4096];
  while (got.find("content") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, size_t(n));
  }
  Reply busy = http(small.port, "POST", "/v1/chat/completions", R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})");
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_TRUE(busy.json()["error"]["message"].is_string());
  close(fd);
  // Once the first stream is cancelled the slot is free again.
  int status = 0;
  for (int i = 0; i < 400 && status != 200; ++i) {
    Reply r = http(small.port, "POST", "/v1/chat/completions", R"({"model":"demo","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})");
    status = r.status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
  small.stop();
}

}  // namespace

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
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_proc.h"
#include "test_util.h"

namespace {

using Json = nlohmann::json;
const std::string kKey = "test-key-123";

using g4::test::read_file;

using g4::test::ServerProc;

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
    if (HasFailure()) std::cerr << "---- server log (tail) ----\n" << server_.log_tail() << "\n";
  }
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
  g4::test::run_node_client("openai_client.cjs", "openai", "http://127.0.0.1:" + std::to_string(port()) + " " + kKey + " demo");
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

// ---- the OpenAI surface: limits on untrusted JSON, llama-server's endpoints, logprobs, n, parameters ----

Reply post(int port, const std::string& path, const Json& body) { return http(port, "POST", path, body.dump()); }

Json chat_body(const std::string& text, int max_tokens) {
  return Json{{"model", "demo"}, {"messages", Json::array({{{"role", "user"}, {"content", text}}})}, {"max_tokens", max_tokens},
              {"temperature", 0}};
}

// The JSON events of an SSE body, without the final [DONE] (whose presence is checked).
std::vector<Json> sse_events(const std::string& body) {
  std::vector<Json> out;
  std::istringstream in(body);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    last = line.substr(6);
    if (last != "[DONE]") out.push_back(Json::parse(last, nullptr, false));
  }
  EXPECT_EQ(last, "[DONE]");
  return out;
}

void expect_refused(int port, const std::string& path, const Json& body, const std::string& param) {
  Reply r = post(port, path, body);
  EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.body;
  EXPECT_EQ(r.json()["error"]["param"], param) << body.dump() << " -> " << r.body;
  EXPECT_TRUE(r.json()["error"]["message"].is_string());
}

TEST_F(ServerTest, NestedJsonBombIsRefusedAndTheServerKeepsServing) {
  // ~200 KB of nested arrays as a message's content: refused before anything walks the tree.
  const int depth = 100000;
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":)" + std::string(depth, '[') +
                     std::string(depth, ']') + "}]}";
  Reply r = http(port(), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(r.status, 400) << r.body.substr(0, 300);
  EXPECT_EQ(r.json()["error"]["code"], "json_too_complex");
  // Just inside the limit is fine JSON (and then a wrong content type for a message).
  std::string ok = R"({"model":"demo","messages":[{"role":"user","content":)" + std::string(60, '[') + std::string(60, ']') + "}]}";
  EXPECT_EQ(http(port(), "POST", "/v1/chat/completions", ok).json()["error"]["param"], "messages[0].content[0]");
  // The same inside tool-call arguments (a JSON string parsed again).
  Json call = chat_body("x", 1);
  call["messages"].push_back({{"role", "assistant"},
                              {"tool_calls", Json::array({{{"id", "c1"}, {"type", "function"},
                                                           {"function", {{"name", "f"}, {"arguments", std::string(5000, '[')}}}}})}});
  expect_refused(port(), "/v1/chat/completions", call, "messages[1].tool_calls[0].function.arguments");
  EXPECT_EQ(http(port(), "GET", "/health").status, 200);
  EXPECT_EQ(post(port(), "/v1/chat/completions", chat_body("Hi", 2)).status, 200);
}

TEST_F(ServerTest, ObjectWithTooManyMembersIsRefused) {
  // A million-key object would make ordered_json's inserts quadratic: refused by the pre-scan.
  std::string md = "{";
  for (int i = 0; i < 200000; ++i) md += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  md += "}";
  std::string body = R"({"model":"demo","messages":[{"role":"user","content":"x"}],"metadata":)" + md + "}";
  Reply r = http(port(), "POST", "/v1/chat/completions", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["code"], "json_too_complex");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("1024 members"), std::string::npos);
  EXPECT_EQ(http(port(), "GET", "/health").status, 200);
}

TEST_F(ServerTest, LlamaServerTokenizeDetokenizeProps) {
  Reply t = post(port(), "/tokenize", {{"content", "Hello world"}, {"with_pieces", true}});
  ASSERT_EQ(t.status, 200) << t.body;
  std::string joined;
  std::vector<int> ids;
  const Json tj = t.json();
  for (const Json& p : tj["tokens"]) {
    ASSERT_TRUE(p["id"].is_number_integer());
    ASSERT_TRUE(p["piece"].is_string());
    joined += p["piece"].get<std::string>();
    ids.push_back(p["id"].get<int>());
  }
  EXPECT_EQ(joined, "Hello world");
  Reply plain = post(port(), "/tokenize", {{"content", "Hello world"}});
  EXPECT_EQ(plain.json()["tokens"], Json(ids));
  // add_special puts BOS (id 2) first; parse_special decides whether "<turn|>" is the control token 106.
  EXPECT_EQ(post(port(), "/tokenize", {{"content", "Hi"}, {"add_special", true}}).json()["tokens"][0], 2);
  EXPECT_EQ(post(port(), "/tokenize", {{"content", "<turn|>"}}).json()["tokens"], Json::array({106}));
  EXPECT_GT(post(port(), "/tokenize", {{"content", "<turn|>"}, {"parse_special", false}}).json()["tokens"].size(), 1u);
  // A piece that is not valid UTF-8 alone comes as its bytes: U+A66E (EA 99 AE) is not in the vocabulary
  // and falls back to byte tokens.
  Reply bytes = post(port(), "/tokenize", {{"content", "\xEA\x99\xAE"}, {"with_pieces", true}});
  EXPECT_EQ(bytes.json()["tokens"][0]["piece"], Json::array({0xEA})) << bytes.body;

  Reply d = post(port(), "/detokenize", {{"tokens", ids}});
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json()["content"], "Hello world");
  expect_refused(port(), "/detokenize", {{"tokens", {1, -5}}}, "tokens");
  expect_refused(port(), "/tokenize", {{"text", "x"}}, "text");
  expect_refused(port(), "/tokenize", {{"content", 5}}, "content");

  Reply p = http(port(), "GET", "/props");
  ASSERT_EQ(p.status, 200) << p.body;
  Json j = p.json();
  EXPECT_EQ(j["total_slots"], 4);
  EXPECT_EQ(j["default_generation_settings"]["n_ctx"], 1024);
  EXPECT_TRUE(j["default_generation_settings"]["params"]["temperature"].is_number());
  EXPECT_EQ(j["chat_template"], read_file(model_ + "/chat_template.jinja"));
  EXPECT_EQ(j["model_path"].get<std::string>().rfind(model_, 0), 0u) << j["model_path"];
  EXPECT_EQ(j["bos_token"], "<bos>");
  EXPECT_EQ(http(port(), "POST", "/props", "{}").status, 405);
  EXPECT_EQ(http(port(), "GET", "/props", "", "").status, 401);  // needs the key, like /v1/
}

TEST_F(ServerTest, AnyModelNameMeansTheServedModel) {
  Json b = chat_body("Hi", 2);
  b["model"] = "gpt-4o";
  Reply r = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["model"], "demo");
  Reply m = http(port(), "GET", "/v1/models/some-other-name");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.json()["id"], "demo");
}

TEST_F(ServerTest, ChatLogprobsStreamedAndNot) {
  Json b = chat_body("Tell me a number.", 6);
  b["logprobs"] = true;
  b["top_logprobs"] = 3;
  Reply r = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  Json content = r.json()["choices"][0]["logprobs"]["content"];
  ASSERT_TRUE(content.is_array());
  ASSERT_GE(content.size(), 1u);
  EXPECT_LE(content.size(), 6u);
  for (const Json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    double prev = 0, mass = 0;
    for (const Json& a : t["top_logprobs"]) {
      EXPECT_LE(a["logprob"].get<double>(), prev + 1e-9);  // most likely first, log p <= 0
      prev = a["logprob"].get<double>();
      mass += std::exp(prev);
      std::string bytes;
      for (const Json& c : a["bytes"]) bytes.push_back(char(c.get<int>()));
      EXPECT_EQ(bytes, a["token"].get<std::string>());
    }
    EXPECT_LE(mass, 1.0 + 1e-6);
    // Greedy decoding picks the most likely token: the first alternative.
    EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    EXPECT_DOUBLE_EQ(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>());
  }
  b["stream"] = true;
  Reply s = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(s.status, 200);
  Json streamed = Json::array();
  for (const Json& e : sse_events(s.body))
    for (const Json& c : e["choices"])
      if (c["logprobs"].is_object())
        for (const Json& t : c["logprobs"]["content"]) streamed.push_back(t);
  // The same tokens; the values agree to float precision (the second request reuses the cached prompt,
  // whose logits come from a differently batched pass).
  ASSERT_EQ(streamed.size(), content.size());
  for (size_t i = 0; i < content.size(); ++i) {
    EXPECT_EQ(streamed[i]["token"], content[i]["token"]);
    EXPECT_NEAR(streamed[i]["logprob"].get<double>(), content[i]["logprob"].get<double>(), 1e-3);
    for (size_t k = 0; k < 3; ++k) EXPECT_EQ(streamed[i]["top_logprobs"][k]["token"], content[i]["top_logprobs"][k]["token"]);
  }
  // Without logprobs the field is null; bounds are enforced.
  EXPECT_TRUE(post(port(), "/v1/chat/completions", chat_body("Hi", 1)).json()["choices"][0]["logprobs"].is_null());
  Json too_many = chat_body("Hi", 1);
  too_many["logprobs"] = true;
  too_many["top_logprobs"] = 21;
  expect_refused(port(), "/v1/chat/completions", too_many, "top_logprobs");
  Json alone = chat_body("Hi", 1);
  alone["top_logprobs"] = 2;
  expect_refused(port(), "/v1/chat/completions", alone, "top_logprobs");
}

TEST_F(ServerTest, CompletionLogprobsLegacyShape) {
  Json b = {{"model", "demo"}, {"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0}, {"logprobs", 2}};
  Reply r = post(port(), "/v1/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  Json c = r.json()["choices"][0];
  Json lp = c["logprobs"];
  const size_t n = lp["tokens"].size();
  ASSERT_GE(n, 1u);
  ASSERT_EQ(lp["token_logprobs"].size(), n);
  ASSERT_EQ(lp["top_logprobs"].size(), n);
  ASSERT_EQ(lp["text_offset"].size(), n);
  size_t offset = 0;
  std::string joined;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(lp["text_offset"][i], offset);
    const std::string tok = lp["tokens"][i].get<std::string>();
    offset += tok.size();
    joined += tok;
    const Json& alts = lp["top_logprobs"][i];
    EXPECT_GE(alts.size(), 2u);
    EXPECT_LE(alts.size(), 3u);  // the 2 most likely and the sampled one
    ASSERT_TRUE(alts.contains(tok));
    EXPECT_DOUBLE_EQ(alts[tok].get<double>(), lp["token_logprobs"][i].get<double>());
  }
  if (c["finish_reason"] == "length") {
    EXPECT_EQ(joined, c["text"].get<std::string>());
  }
  b["stream"] = true;
  Reply s = post(port(), "/v1/completions", b);
  Json tokens = Json::array();
  for (const Json& e : sse_events(s.body))
    for (const Json& ch : e["choices"])
      if (ch["logprobs"].is_object())
        for (const Json& t : ch["logprobs"]["tokens"]) tokens.push_back(t);
  EXPECT_EQ(tokens, lp["tokens"]);
  b.erase("stream");
  b["logprobs"] = 21;
  expect_refused(port(), "/v1/completions", b, "logprobs");
  b["logprobs"] = 1;
  b["echo"] = true;
  expect_refused(port(), "/v1/completions", b, "echo");
}

TEST_F(ServerTest, NChoicesSharePrefill) {
  Json one = chat_body("A unique prompt for n choices, seven.", 5);
  one["temperature"] = 1.0;
  one["seed"] = 77;
  Reply single = post(port(), "/v1/chat/completions", one);
  ASSERT_EQ(single.status, 200) << single.body;
  Json three = one;
  three["n"] = 3;
  three["messages"][0]["content"] = "Another unique prompt for n choices, eight.";
  const double computed_before = metric(port(), "g4_prompt_tokens_computed_total");
  Reply r = post(port(), "/v1/chat/completions", three);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  ASSERT_EQ(j["choices"].size(), 3u);
  int total = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_TRUE(j["choices"][i]["message"]["content"].is_string());
  }
  total = j["usage"]["completion_tokens"].get<int>();
  EXPECT_GE(total, 3);
  EXPECT_LE(total, 15);
  // The prompt was run through the model once, not three times (less what the prefix cache held).
  const double computed = metric(port(), "g4_prompt_tokens_computed_total") - computed_before;
  EXPECT_EQ(computed, j["usage"]["prompt_tokens"].get<double>() - j["usage"]["prompt_tokens_details"]["cached_tokens"].get<double>());
  // Choice 0 samples with the request's seed: the same answer as n = 1 on the same prompt.
  one["messages"][0]["content"] = "Another unique prompt for n choices, eight.";
  Reply again = post(port(), "/v1/chat/completions", one);
  EXPECT_EQ(again.json()["choices"][0]["message"]["content"], j["choices"][0]["message"]["content"]);
  // Completions too.
  Reply c = post(port(), "/v1/completions", {{"model", "demo"}, {"prompt", "Hello"}, {"max_tokens", 3}, {"n", 2}, {"seed", 3}});
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(c.json()["choices"].size(), 2u);
  EXPECT_EQ(c.json()["choices"][1]["index"], 1);
  Json big = chat_body("x", 1);
  big["n"] = 17;
  expect_refused(port(), "/v1/chat/completions", big, "n");
}

TEST_F(ServerTest, NChoicesStreamed) {
  Json b = chat_body("Streaming choices.", 4);
  b["temperature"] = 0.9;
  b["seed"] = 11;
  b["n"] = 2;
  Reply plain = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(plain.status, 200) << plain.body;
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  Reply s = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(s.status, 200);
  std::string text[2];
  int finishes[2] = {0, 0};
  bool usage = false;
  for (const Json& e : sse_events(s.body)) {
    if (e.contains("usage") && e["usage"].is_object()) {
      usage = true;
      EXPECT_EQ(e["usage"]["completion_tokens"], plain.json()["usage"]["completion_tokens"]);
    }
    for (const Json& c : e["choices"]) {
      int i = c["index"].get<int>();
      ASSERT_TRUE(i == 0 || i == 1);
      if (c["delta"].contains("content")) text[i] += c["delta"]["content"].get<std::string>();
      if (!c["finish_reason"].is_null()) ++finishes[i];
    }
  }
  EXPECT_TRUE(usage);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(finishes[i], 1);
    EXPECT_EQ(text[i], plain.json()["choices"][i]["message"]["content"].get<std::string>()) << i;
  }
}

TEST_F(ServerTest, SamplingExtensionsAcceptedOrRefused) {
  Json b = chat_body("Sample with everything.", 4);
  b["temperature"] = 0.8;
  const Json all = {{"top_k", 40}, {"min_p", 0.05}, {"typical_p", 0.9}, {"repeat_penalty", 1.1}, {"repeat_last_n", 64},
                           {"presence_penalty", 0.2}, {"frequency_penalty", 0.1}, {"dry_multiplier", 0.8}, {"dry_base", 1.75},
                           {"dry_allowed_length", 2}, {"dry_penalty_last_n", -1}, {"dry_sequence_breakers", {"\n", ":"}},
                           {"xtc_probability", 0.5}, {"xtc_threshold", 0.1}, {"seed", 5}, {"cache_prompt", true}, {"n_predict", 3}};
  for (auto& [k, v] : all.items()) b[k] = v;
  Reply r = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_LE(r.json()["usage"]["completion_tokens"].get<int>(), 4);  // max_tokens wins over n_predict
  for (int mode : {1, 2}) {
    Json m = chat_body("Mirostat.", 3);
    m["temperature"] = 1.0;
    m["mirostat"] = mode;
    m["mirostat_tau"] = 4.0;
    m["mirostat_eta"] = 0.2;
    EXPECT_EQ(post(port(), "/v1/chat/completions", m).status, 200) << mode;
  }
  Json c = {{"model", "demo"}, {"prompt", "Hi"}, {"max_tokens", 2}, {"top_k", 5}, {"typical_p", 0.5}, {"xtc_probability", 1}};
  EXPECT_EQ(post(port(), "/v1/completions", c).status, 200);
  // Each refused with a 400 naming the parameter.
  const std::vector<std::pair<Json, std::string>> refused = {
      {{{"grammar", "root ::= \"a\""}}, "grammar"},
      {{{"json_schema", {{"type", "object"}}}}, "json_schema"},
      {{{"n_probs", 3}}, "n_probs"},
      {{{"samplers", {"top_k"}}}, "samplers"},
      {{{"ignore_eos", true}}, "ignore_eos"},
      {{{"dynatemp_range", 0.5}}, "dynatemp_range"},
      {{{"no_such_field", 1}}, "no_such_field"},
      {{{"mirostat", 3}}, "mirostat"},
      {{{"typical_p", 1.5}}, "typical_p"},
      {{{"dry_base", 0.5}}, "dry_base"},
      {{{"dry_sequence_breakers", {""}}}, "dry_sequence_breakers"},
      {{{"xtc_threshold", 2}}, "xtc_threshold"},
      {{{"repeat_last_n", -2}}, "repeat_last_n"},
      {{{"top_k", "many"}}, "top_k"},
      {{{"cache_prompt", false}}, "cache_prompt"},
      {{{"repeat_penalty", 1.1}, {"repetition_penalty", 1.2}}, "repetition_penalty"},
  };
  for (const auto& [fields, param] : refused) {
    Json x = chat_body("x", 1);
    for (auto& [k, v] : fields.items()) x[k] = v;
    expect_refused(port(), "/v1/chat/completions", x, param);
  }
  expect_refused(port(), "/v1/completions", {{"model", "demo"}, {"prompt", "x"}, {"grammar", "root ::= \"a\""}}, "grammar");
}

TEST_F(ServerTest, OpenAIFieldsAcceptedOrRefusedByName) {
  Json b = chat_body("Fields.", 2);
  const Json accepted = {{"user", "u-1"}, {"metadata", {{"run", "7"}}}, {"store", false}, {"parallel_tool_calls", true},
                           {"service_tier", "auto"}, {"prompt_cache_key", "k"}, {"safety_identifier", "s"},
                           {"modalities", {"text"}}, {"verbosity", "medium"}, {"seed", 1}, {"audio", nullptr}};
  for (auto& [k, v] : accepted.items()) b[k] = v;
  b["messages"][0]["name"] = "alice";
  Reply r = post(port(), "/v1/chat/completions", b);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["service_tier"], "default");
  // stream_options.include_obfuscation pads every chunk with random characters.
  Json o = chat_body("Pad.", 2);
  o["stream"] = true;
  o["stream_options"] = {{"include_obfuscation", true}};
  Reply os = post(port(), "/v1/chat/completions", o);
  std::vector<Json> events = sse_events(os.body);
  ASSERT_GE(events.size(), 2u);
  for (const Json& e : events) EXPECT_FALSE(e.value("obfuscation", "").empty()) << e.dump();
  o["stream_options"] = {{"include_usage", true}};
  for (const Json& e : sse_events(post(port(), "/v1/chat/completions", o).body)) EXPECT_FALSE(e.contains("obfuscation"));
  const std::vector<std::pair<Json, std::string>> refused = {
      {{{"store", true}}, "store"},
      {{{"audio", {{"voice", "alloy"}, {"format", "wav"}}}}, "audio"},
      {{{"modalities", {"text", "audio"}}}, "modalities"},
      {{{"prediction", {{"type", "content"}, {"content", "x"}}}}, "prediction"},
      {{{"web_search_options", Json::object()}}, "web_search_options"},
      {{{"functions", Json::array({{{"name", "f"}}})}}, "functions"},
      {{{"function_call", "auto"}}, "function_call"},
      {{{"service_tier", "priority"}}, "service_tier"},
      {{{"verbosity", "low"}}, "verbosity"},
      {{{"metadata", {{"k", 5}}}}, "metadata"},
      {{{"reasoning_effort", "extreme"}}, "reasoning_effort"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},
      {{{"logprobs", 3}}, "logprobs"},
  };
  for (const auto& [fields, param] : refused) {
    Json x = chat_body("x", 1);
    for (auto& [k, v] : fields.items()) x[k] = v;
    expect_refused(port(), "/v1/chat/completions", x, param);
  }
  Json m = chat_body("x", 1);
  m["messages"][0]["cache_control"] = {{"type", "ephemeral"}};
  expect_refused(port(), "/v1/chat/completions", m, "messages[0].cache_control");
  expect_refused(port(), "/v1/completions", {{"model", "demo"}, {"prompt", "x"}, {"suffix", "y"}}, "suffix");
  expect_refused(port(), "/v1/completions", {{"model", "demo"}, {"prompt", "x"}, {"best_of", 3}}, "best_of");
  expect_refused(port(), "/v1/completions", {{"model", "demo"}, {"prompt", "x"}, {"messages", Json::array()}}, "messages");
}

TEST_F(ServerTest, ReasoningEffortMapsToThinking) {
  auto prompt_tokens = [&](const Json& extra) {
    Json b = chat_body("Think about it.", 1);
    for (auto& [k, v] : extra.items()) b[k] = v;
    Reply r = post(port(), "/v1/chat/completions", b);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["usage"]["prompt_tokens"].get<int>();
  };
  const int off = prompt_tokens(Json::object());
  const int on = prompt_tokens({{"chat_template_kwargs", {{"enable_thinking", true}}}});
  ASSERT_NE(on, off);  // the template announces thinking
  EXPECT_EQ(prompt_tokens({{"reasoning_effort", "high"}}), on);
  EXPECT_EQ(prompt_tokens({{"reasoning_effort", "low"}}), on);
  EXPECT_EQ(prompt_tokens({{"reasoning_effort", "minimal"}}), off);
  EXPECT_EQ(prompt_tokens({{"reasoning_effort", "none"}}), off);
  Json x = chat_body("x", 1);
  x["reasoning_effort"] = "none";
  x["chat_template_kwargs"] = {{"enable_thinking", true}};
  expect_refused(port(), "/v1/chat/completions", x, "reasoning_effort");
}

TEST_F(ServerTest, HugePromptRefusedBeforeTokenizing) {
  // 4 MB of text cannot fit 1024 tokens: refused from its byte length, with a lower bound.
  std::string big(4u << 20, 'a');
  Reply r = post(port(), "/v1/completions", {{"model", "demo"}, {"prompt", big}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json()["error"]["code"], "context_length_exceeded");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("at least"), std::string::npos);
  Reply c = post(port(), "/v1/chat/completions", chat_body(big, 1));
  EXPECT_EQ(c.status, 400);
  EXPECT_EQ(c.json()["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(c.json()["error"]["param"], "messages");
  EXPECT_EQ(post(port(), "/v1/chat/completions", chat_body("Hi", 1)).status, 200);
}

// Image and audio parts: the demo model is text only, so a well-formed image is refused naming the
// reason; malformed parts, remote URLs and file:// without --media-dir are refused before that.
TEST_F(ServerTest, MediaPartsAreParsedAndRefusedClearly) {
  auto body = [](const Json& part) {
    return Json{{"model", "demo"}, {"max_tokens", 1}, {"messages", {{{"role", "user"}, {"content", {part, {{"type", "text"}, {"text", "What is this?"}}}}}}}};
  };
  auto expect400 = [&](const Json& part, const std::string& needle) {
    Reply r = post(port(), "/v1/chat/completions", body(part));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find(needle), std::string::npos) << "expected '" << needle << "' in " << r.body;
  };
  expect400({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,iVBORw0KGgo="}}}}, "no media towers");
  expect400({{"type", "image_url"}, {"image_url", {{"url", "https://example.com/cat.png"}}}}, "no media towers");
  expect400({{"type", "input_audio"}, {"input_audio", {{"data", "UklGRg=="}, {"format", "wav"}}}}, "no media towers");
  expect400({{"type", "image_url"}, {"image_url", 7}}, "messages[0].content[0].image_url");
  expect400({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AA=="}, {"detail", "high"}}}}, "detail");
  expect400({{"type", "input_audio"}, {"input_audio", {{"data", "AA=="}, {"format", "flac"}}}}, "'wav' or 'mp3'");
  expect400({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AA=="}}}, {"extra", 1}}, "extra");
  EXPECT_EQ(post(port(), "/v1/chat/completions", chat_body("Hi", 1)).status, 200);
}

}  // namespace

// /v1/responses (OpenAI's Responses API) and /v1/messages (Anthropic's Messages API) against a running
// `gemma4 serve` on the demo model (random weights, real Gemma 4 vocabulary and chat template): the
// official npm clients (`openai` in responses_client.cjs, `@anthropic-ai/sdk` in anthropic_client.cjs)
// drive text, tool-call round trips, streaming, thinking and errors; raw sockets check what the
// clients hide (headers, error shapes, authentication by x-api-key). The clients talk to 127.0.0.1 only.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http_test_util.h"
#include "server_proc.h"
#include "server/anthropic_api.h"
#include "server/responses_api.h"
#include "test_util.h"

namespace {

using Json = nlohmann::json;
const std::string kKey = "rm-test-key";

using g4::test::read_file;

struct Reply {
  int status = 0;
  std::string head, body;
  Json json() const { return Json::parse(body, nullptr, false); }
  bool has_header(const std::string& line) const { return head.find(line) != std::string::npos; }
};

// One request on its own connection ("Connection: close"); chunked bodies are decoded.
Reply http(int port, const std::string& method, const std::string& path, const std::string& body, const std::string& headers) {
  Reply r;
  int fd = g4::test::connect_to(port, 60000);
  if (fd < 0) return r;
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers;
  if (method == "POST") req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  g4::test::send_all(fd, req);
  const std::string raw = g4::test::read_all(fd);
  close(fd);
  const size_t he = raw.find("\r\n\r\n");
  if (raw.size() < 12 || he == std::string::npos) return r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  r.head = raw.substr(0, he);
  const std::string rest = raw.substr(he + 4);
  if (r.head.find("Transfer-Encoding: chunked") == std::string::npos) {
    r.body = rest;
    return r;
  }
  for (size_t pos = 0;;) {
    const size_t le = rest.find("\r\n", pos);
    if (le == std::string::npos) break;
    const size_t n = std::stoul(rest.substr(pos, le - pos), nullptr, 16);
    if (n == 0) break;
    r.body += rest.substr(le + 2, n);
    pos = le + 2 + n + 2;
  }
  return r;
}

class ResponsesMessagesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-rm-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    model_ = dir_ + "/demo";
    auto r = g4::test::run_cli("demo-model --out " + model_);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(server_.start({"--model", model_, "--port", "0", "--parallel", "2", "--ctx", "1024", "--api-key", kKey,
                               "--alias", "demo"},
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
  static Reply post(const std::string& path, const std::string& body, const std::string& headers = "Authorization: Bearer " + kKey + "\r\n") {
    return http(port(), "POST", path, body, headers);
  }

  static void run_client(const std::string& script, const char* package) {
    g4::test::run_node_client(script, package, "http://127.0.0.1:" + std::to_string(port()) + " " + kKey + " demo");
  }

  static inline std::string dir_, model_;
  static inline g4::test::ServerProc server_;
};

TEST_F(ResponsesMessagesTest, OpenAIClientResponses) { run_client("responses_client.cjs", "openai"); }

TEST_F(ResponsesMessagesTest, AnthropicClientMessages) { run_client("anthropic_client.cjs", "@anthropic-ai/sdk"); }

// Anthropic's clients authenticate with x-api-key; every error on /v1/messages has Anthropic's shape,
// including the ones raised before the request reaches the Messages code (authentication, routing).
TEST_F(ResponsesMessagesTest, MessagesAuthenticationAndErrorShape) {
  const std::string body = R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"Hi"}]})";
  Reply ok = post("/v1/messages", body, "x-api-key: " + kKey + "\r\nanthropic-version: 2023-06-01\r\n");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["type"], "message");

  Reply wrong = post("/v1/messages", body, "x-api-key: not-the-key\r\nanthropic-version: 2023-06-01\r\n");
  EXPECT_EQ(wrong.status, 401);
  Json e = wrong.json();
  EXPECT_EQ(e["type"], "error") << wrong.body;
  EXPECT_EQ(e["error"]["type"], "authentication_error") << wrong.body;
  EXPECT_FALSE(e["error"]["message"].get<std::string>().empty());

  Reply missing = post("/v1/messages", body, "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.json()["error"]["type"], "authentication_error") << missing.body;

  Reply not_found = post("/v1/messages/batches", "{}", "x-api-key: " + kKey + "\r\n");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.json()["error"]["type"], "not_found_error") << not_found.body;

  Reply get = http(port(), "GET", "/v1/messages", "", "x-api-key: " + kKey + "\r\n");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.json()["type"], "error") << get.body;

  // The OpenAI endpoints keep OpenAI's shape.
  Reply oai = post("/v1/responses", R"({"model":"m","input":"Hi","previous_response_id":"resp_1"})");
  EXPECT_EQ(oai.status, 400);
  EXPECT_EQ(oai.json()["error"]["param"], "previous_response_id") << oai.body;
  EXPECT_EQ(oai.json()["error"]["type"], "invalid_request_error") << oai.body;
}

// Streams as the wire carries them: event names on "event:" lines matching each payload's type,
// Responses events numbered from 0.
TEST_F(ResponsesMessagesTest, StreamsNameEveryEvent) {
  Reply r = post("/v1/responses", R"({"model":"m","input":"Hi","max_output_tokens":3,"temperature":0,"stream":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.has_header("Content-Type: text/event-stream")) << r.head;
  std::istringstream in(r.body);
  std::string line, event;
  int64_t expect_seq = 0;
  std::vector<std::string> types;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (line.rfind("data: ", 0) != 0) continue;
    Json j = Json::parse(line.substr(6));
    EXPECT_EQ(j["type"], event);
    EXPECT_EQ(j["sequence_number"], expect_seq++);
    types.push_back(event);
  }
  ASSERT_GE(types.size(), 3u);
  EXPECT_EQ(types.front(), "response.created");
  EXPECT_EQ(types[1], "response.in_progress");
  EXPECT_TRUE(types.back() == "response.completed" || types.back() == "response.incomplete") << types.back();

  Reply m = post("/v1/messages", R"({"model":"m","max_tokens":3,"temperature":0,"stream":true,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_EQ(m.status, 200) << m.body;
  std::istringstream min(m.body);
  types.clear();
  while (std::getline(min, line)) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (line.rfind("data: ", 0) != 0) continue;
    EXPECT_EQ(Json::parse(line.substr(6))["type"], event);
    types.push_back(event);
  }
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types.front(), "message_start");
  EXPECT_EQ(types[types.size() - 2], "message_delta");
  EXPECT_EQ(types.back(), "message_stop");
}

// ---- the mappings alone: request bodies in, chat requests (as the chat template sees them) out ----

g4::server::ParseContext parse_ctx() {
  g4::server::ParseContext ctx;
  ctx.vocab_size = 262144;
  ctx.fixed_seed = true;
  return ctx;
}

std::string param_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const g4::server::ApiError& e) {
    return e.param;
  }
  return "(accepted)";
}

TEST(ResponsesMapping, InputItemsBecomeChatTurns) {
  // An earlier answer passed back whole (reasoning, text, two calls), the calls' outputs, a new question.
  auto body = g4::Json::parse(R"({"model": "m", "instructions": "Be terse.", "input": [
    {"role": "user", "content": "Weather in Paris and Rome?"},
    {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Two calls."}]},
    {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
     "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
    {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "w", "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call", "id": "fc_2", "call_id": "c2", "name": "w", "arguments": "{\"city\":\"Rome\"}"},
    {"type": "function_call_output", "call_id": "c1", "output": "21"},
    {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "25"}]},
    {"role": "developer", "content": [{"type": "input_text", "text": "Celsius."}]}],
    "max_output_tokens": 7, "reasoning": {"effort": "low"}, "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}]})");
  g4::server::ResponsesRequest r = g4::server::parse_responses_request(body, parse_ctx());
  const g4::Json& m = r.chat.messages;
  ASSERT_EQ(m.size(), 6u) << m.dump();
  EXPECT_EQ(m[0], g4::Json::parse(R"({"role": "system", "content": "Be terse."})"));
  EXPECT_EQ(m[1]["content"], "Weather in Paris and Rome?");
  EXPECT_EQ(m[2]["role"], "assistant");
  EXPECT_EQ(m[2]["content"], "Checking.");
  EXPECT_EQ(m[2]["reasoning_content"], "Two calls.");
  ASSERT_EQ(m[2]["tool_calls"].size(), 2u);
  EXPECT_EQ(m[2]["tool_calls"][1]["id"], "c2");
  EXPECT_EQ(m[2]["tool_calls"][1]["function"]["arguments"], g4::Json::parse(R"({"city": "Rome"})"));
  EXPECT_EQ(m[3]["role"], "tool");
  EXPECT_EQ(m[3]["name"], "w");  // found through the call it answers
  EXPECT_EQ(m[4]["content"], "25");
  EXPECT_EQ(m[5], g4::Json::parse(R"({"role": "system", "content": "Celsius."})"));
  EXPECT_EQ(r.chat.max_tokens, 7);
  EXPECT_TRUE(r.chat.enable_thinking);
  EXPECT_EQ(r.chat.tools[0]["function"]["name"], "w");
}

TEST(ResponsesMapping, ChatErrorsNameTheResponsesFields) {
  auto parse = [](const char* extra) {
    return param_of([&] {
      g4::server::parse_responses_request(g4::Json::parse(std::string(R"({"model": "m", "input": "Hi")") + extra + "}"), parse_ctx());
    });
  };
  EXPECT_EQ(parse(R"(, "max_output_tokens": "many")"), "max_output_tokens");
  EXPECT_EQ(parse(R"(, "tools": [{"type": "function", "name": "a b"}])"), "tools[0].name");
  EXPECT_EQ(parse(R"(, "tools": [{"type": "function", "name": "f", "parameters": 3}])"), "tools[0].parameters");
  EXPECT_EQ(parse(R"(, "text": {"format": {"type": "json_schema", "name": "x", "schema": 3}})"), "text.format.schema");
  EXPECT_EQ(parse(R"(, "text": {"verbosity": "high"})"), "text.verbosity");
  EXPECT_EQ(parse(R"(, "reasoning": {"effort": "max"})"), "reasoning.effort");
  EXPECT_EQ(parse(R"(, "stream_options": {"include_obfuscation": true})"), "stream_options");
  EXPECT_EQ(parse(R"(, "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{]"}])"), "input");
  EXPECT_EQ(parse(R"(, "tool_choice": "sometimes")"), "tool_choice");
  EXPECT_EQ(parse(""), "(accepted)");
}

TEST(MessagesMapping, BlocksBecomeChatTurns) {
  auto body = g4::Json::parse(R"({"model": "m", "max_tokens": 9, "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
    "messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": [{"type": "thinking", "thinking": "Call it.", "signature": "s"}, {"type": "text", "text": "Let me check."},
                                        {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Paris"}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "timeout", "is_error": true},
                                   {"type": "text", "text": "Try"}, {"type": "text", "text": "again."}]}],
    "tools": [{"name": "w", "input_schema": {"type": "object"}}], "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
    "stop_sequences": ["END"], "top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 4}})");
  g4::server::MessagesRequest r = g4::server::parse_messages_request(body, parse_ctx());
  const g4::Json& m = r.chat.messages;
  ASSERT_EQ(m.size(), 5u) << m.dump();
  EXPECT_EQ(m[0], g4::Json::parse(R"({"role": "system", "content": "A\nB"})"));
  EXPECT_EQ(m[2]["content"], "Let me check.");
  EXPECT_EQ(m[2]["reasoning_content"], "Call it.");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"], g4::Json::parse(R"({"city": "Paris"})"));
  EXPECT_EQ(m[3]["role"], "tool");
  EXPECT_EQ(m[3]["tool_call_id"], "t1");
  EXPECT_EQ(m[3]["content"], "Error: timeout");
  EXPECT_EQ(m[4], g4::Json::parse(R"({"role": "user", "content": "Try\nagain."})"));
  EXPECT_FALSE(r.chat.parallel_tool_calls);
  EXPECT_EQ(r.chat.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.chat.sampling.top_k, 5);
  EXPECT_TRUE(r.chat.enable_thinking);
  EXPECT_TRUE(r.thinking_forced);
  EXPECT_EQ(r.thinking_budget, 4);
}

TEST(MessagesMapping, ErrorsNameTheMessagesFields) {
  auto parse = [](const char* extra) {
    return param_of([&] {
      g4::server::parse_messages_request(
          g4::Json::parse(std::string(R"({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}])") + extra + "}"),
          parse_ctx());
    });
  };
  EXPECT_EQ(parse(R"(, "stop_sequences": [1])"), "stop_sequences");
  EXPECT_EQ(parse(R"(, "tools": [{"name": "w", "input_schema": 3}])"), "tools[0].input_schema");
  EXPECT_EQ(parse(R"(, "tools": [{"name": "w w", "input_schema": {"type": "object"}}])"), "tools[0].name");
  EXPECT_EQ(parse(R"(, "top_k": -5)"), "top_k");
  EXPECT_EQ(parse(R"(, "thinking": {"type": "enabled", "budget_tokens": 8})"), "thinking.budget_tokens");
  EXPECT_EQ(parse(R"(, "tool_choice": {"type": "tool", "name": "w"})"), "tool_choice");  // no such tool
  EXPECT_EQ(parse(R"(, "metadata": {"user_id": 5})"), "metadata.user_id");
  EXPECT_EQ(parse(R"(, "container": "c1")"), "container");
  EXPECT_EQ(parse(""), "(accepted)");
  EXPECT_EQ(param_of([] {
              g4::server::parse_messages_request(g4::Json::parse(R"({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})"),
                                                 parse_ctx(), /*count_tokens=*/true);
            }),
            "(accepted)");
}

}  // namespace

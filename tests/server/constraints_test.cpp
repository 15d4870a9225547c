// Constrained answers end to end through `gemma4 serve` on the demo model (random weights, the real
// Gemma 4 vocabulary and chat template), so whatever comes out is the constraint's doing: a forced
// tool call (named, "required", streamed) arrives as a parsed tool call whose arguments are valid
// against a schema with minimum/maximum/pattern/format/enum; response_format json_schema gives a
// compact document in declared property order; schemas the compiler cannot honour are a 400 naming
// the keyword, its JSON pointer and the request parameter.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/json.h"
#include "runtime/schema_check.h"
#include "server/http_test_util.h"
#include "test_util.h"

namespace {

using g4::Json;
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

  bool start(const std::vector<std::string>& args, const std::string& log_path) {
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

  void stop() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

const char* kBookParams = R"({"type":"object","properties":{
  "code":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2}$"},
  "seats":{"type":"integer","minimum":1,"maximum":9},
  "class":{"enum":["economy","business"]},
  "price":{"type":"number","exclusiveMinimum":0,"maximum":999.5},
  "date":{"type":"string","format":"date"},
  "note":{"type":"string","maxLength":6}},
  "required":["code","seats","class","price","date"],"additionalProperties":false})";

const char* kCancelParams = R"({"type":"object","properties":{"id":{"type":"integer","minimum":10,"maximum":99}},
  "required":["id"],"additionalProperties":false})";

Json tools() {
  return Json::array({
      {{"type", "function"}, {"function", {{"name", "book"}, {"description", "Book a flight"}, {"parameters", Json::parse(kBookParams)}}}},
      {{"type", "function"}, {"function", {{"name", "cancel"}, {"description", "Cancel a booking"}, {"parameters", Json::parse(kCancelParams)}}}},
  });
}

Json request(Json extra) {
  Json body = {{"model", "demo"},
               {"messages", Json::array({{{"role", "user"}, {"content", "Book two seats to Lisbon next Friday."}}})},
               {"temperature", 0},
               {"max_tokens", 300}};
  for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
  return body;
}

// Outside string literals the text has no whitespace.
bool compact(const std::string& s) {
  bool in_str = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      return false;
    }
  }
  return true;
}

class ServeConstraints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-serve-constraints-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string model = dir_ + "/demo";
    auto r = run_cli("demo-model --out " + model);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(server_.start({"--model", model, "--port", "0", "--parallel", "2", "--ctx", "1024"}, dir_ + "/server.log"))
        << slurp(dir_ + "/server.log");
  }
  static void TearDownTestSuite() {
    server_.stop();
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  void TearDown() override {
    if (HasFailure()) {
      std::string log = slurp(dir_ + "/server.log");
      std::cerr << "---- server log (tail) ----\n" << (log.size() > 4000 ? log.substr(log.size() - 4000) : log) << "\n";
    }
  }

  static Response post(const Json& body) {
    const std::string b = body.dump();
    return request_once(server_.port,
                        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nContent-Length: " +
                            std::to_string(b.size()) + "\r\n\r\n" + b,
                        120000);
  }

  // Checks one returned tool call against the request's tools; returns its name.
  static std::string check_call(const Json& call) {
    EXPECT_EQ(call.value("type", ""), "function") << call.dump();
    const std::string name = call["function"]["name"];
    Json args = Json::parse(call["function"]["arguments"].get<std::string>(), nullptr, false);
    EXPECT_TRUE(args.is_object()) << call.dump();
    const char* params = name == "book" ? kBookParams : name == "cancel" ? kCancelParams : nullptr;
    EXPECT_NE(params, nullptr) << name;
    if (params && args.is_object()) {
      EXPECT_EQ(g4::testing::SchemaCheck(Json::parse(params)).check(args), "") << call.dump();
    }
    return name;
  }

  static inline std::string dir_;
  static inline Serve server_;
};

TEST_F(ServeConstraints, NamedToolCallIsValidAgainstItsSchema) {
  Response r = post(request({{"tools", tools()}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "book"}}}}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  const Json& choice = j["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls") << r.body;
  ASSERT_TRUE(choice["message"].contains("tool_calls")) << r.body;
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r.body;
  EXPECT_EQ(check_call(choice["message"]["tool_calls"][0]), "book");
  const Json& content = choice["message"]["content"];
  EXPECT_TRUE(content.is_null() || content == "") << r.body;  // no raw <|tool_call> text
}

TEST_F(ServeConstraints, RequiredToolCallPicksOneOfTheTools) {
  for (double temperature : {0.0, 1.0}) {
    Json body = request({{"tools", tools()}, {"tool_choice", "required"}, {"temperature", temperature}, {"seed", 7}});
    Response r = post(body);
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body);
    ASSERT_EQ(j["choices"][0]["message"]["tool_calls"].size(), 1u) << r.body;
    std::string name = check_call(j["choices"][0]["message"]["tool_calls"][0]);
    EXPECT_TRUE(name == "book" || name == "cancel");
  }
}

TEST_F(ServeConstraints, StreamedToolCall) {
  Response r = post(request({{"tools", tools()}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "cancel"}}}}},
                             {"stream", true}}));
  ASSERT_EQ(r.status, 200) << r.body;
  Json call = Json::object();
  std::string args, finish;
  std::istringstream lines(r.body);
  std::string line;
  bool done = false;
  while (std::getline(lines, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      break;
    }
    Json chunk = Json::parse(data);
    const Json& choice = chunk["choices"][0];
    if (choice["finish_reason"].is_string()) finish = choice["finish_reason"];
    if (!choice["delta"].contains("tool_calls")) continue;
    for (const Json& tc : choice["delta"]["tool_calls"]) {
      if (tc.contains("id")) call = tc;
      if (tc.contains("function") && tc["function"].contains("arguments")) args += tc["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_TRUE(call.contains("function")) << r.body;
  call["function"]["arguments"] = args;
  EXPECT_EQ(check_call(call), "cancel");
}

TEST_F(ServeConstraints, ResponseFormatSchemaIsCompactValidAndInDeclaredOrder) {
  const Json schema = Json::parse(R"({"type":"object","properties":{
      "zeta":{"type":"integer","minimum":-3,"maximum":3},
      "alpha":{"type":"string","pattern":"^[a-z]{2,5}$"},
      "when":{"type":"string","format":"time"},
      "mid":{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":3},
      "opt":{"type":["null","number"],"minimum":0,"maximum":1}},
      "required":["zeta","alpha","when","mid"],"additionalProperties":false})");
  Response r = post(request({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "r"}, {"schema", schema}}}}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop") << r.body;
  const std::string content = j["choices"][0]["message"]["content"];
  Json value = Json::parse(content, nullptr, false);
  ASSERT_TRUE(value.is_object()) << content;
  EXPECT_EQ(g4::testing::SchemaCheck(schema).check(value), "") << content;
  EXPECT_TRUE(compact(content)) << content;
  std::vector<std::string> keys;
  for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
  std::vector<std::string> declared = {"zeta", "alpha", "when", "mid", "opt"};
  size_t at = 0;
  for (const std::string& k : keys) {
    while (at < declared.size() && declared[at] != k) ++at;
    EXPECT_LT(at, declared.size()) << "\"" << k << "\" out of declared order in " << content;
  }
}

TEST_F(ServeConstraints, SchemasThatCannotBeHonouredAre400) {
  Json bad_tools = tools();
  bad_tools[1]["function"]["parameters"]["properties"]["id"]["not"] = Json{{"const", 13}};
  Response r = post(request({{"tools", bad_tools}, {"tool_choice", "required"}}));
  ASSERT_EQ(r.status, 400) << r.body;
  Json e = Json::parse(r.body)["error"];
  EXPECT_EQ(e["param"], "tools[1].function.parameters") << r.body;
  const std::string msg = e["message"];
  EXPECT_NE(msg.find("\"not\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("#/properties/id/not"), std::string::npos) << msg;

  // the same schema under tool_choice naming the other tool is not compiled: no error
  Response ok = post(request({{"tools", bad_tools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "book"}}}}}}));
  EXPECT_EQ(ok.status, 200) << ok.body;

  Json schema = Json::parse(R"({"type":"object","properties":{"a":{"type":"string","format":"hostname"}}})");
  Response rf = post(request({{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", schema}}}}}}));
  ASSERT_EQ(rf.status, 400) << rf.body;
  Json e2 = Json::parse(rf.body)["error"];
  EXPECT_EQ(e2["param"], "response_format.json_schema.schema") << rf.body;
  const std::string msg2 = e2["message"];
  EXPECT_NE(msg2.find("\"format\""), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("#/properties/a/format"), std::string::npos) << msg2;

  // the server still serves
  Response after = post(request({{"max_tokens", 2}}));
  EXPECT_EQ(after.status, 200) << after.body;
}

}  // namespace

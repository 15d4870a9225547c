// `gemma4 chat` at a terminal: runs it under a pseudo-terminal (forkpty) and types into it as a person
// would: arrow-up recalls history, """ blocks and trailing backslashes make one message, Ctrl-C drops
// the line at the prompt and stops an answer, Ctrl-D exits cleanly, the history file carries over to
// the next run, and /save then /load round-trips the conversation.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& work_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/g4-chat-pty-" + std::to_string(getpid());
    mkdir(d.c_str(), 0700);
    auto r = g4::test::run_cli("demo-model --out " + d + "/demo");
    EXPECT_EQ(r.status, 0) << r.out;
    return d;
  }();
  // Removed at exit; constructed after `dir`, so destroyed before it (an atexit handler registered inside
  // dir's initializer would run after dir was destroyed).
  static const struct Cleanup {
    ~Cleanup() { std::system(("rm -rf '" + dir + "'").c_str()); }
  } cleanup;
  return dir;
}

// gemma4 chat on the slave side of a pseudo-terminal; everything it writes is collected in `out`.
class PtyChat {
 public:
  explicit PtyChat(const std::vector<std::string>& args) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      setenv("TERM", "xterm", 1);
      setenv("HOME", work_dir().c_str(), 1);  // no ~/.editrc, no default history of the user running the tests
      unsetenv("XDG_STATE_HOME");
      std::vector<char*> argv{const_cast<char*>(G4_BINARY), const_cast<char*>("chat")};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(G4_BINARY, argv.data());
      _exit(127);
    }
  }
  ~PtyChat() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0 && fd_ >= 0; }

  void type(const std::string& keys) {
    // As a person types: a moment after the prompt shows. Keys typed ahead while the chat is between
    // libedit reads (the terminal leaving and re-entering raw mode) can be lost or land in the wrong
    // line on a loaded machine; that type-ahead is a known limit, not what this test is about.
    for (const auto until = Clock::now() + std::chrono::milliseconds(300); Clock::now() < until;) pump(50);
    size_t off = 0;
    while (off < keys.size()) {
      ssize_t n = write(fd_, keys.data() + off, keys.size() - off);
      if (n <= 0) return;
      off += size_t(n);
    }
  }

  // Reads until `needle` appears after position `from` of the output; false after `seconds`.
  bool wait_for(const std::string& needle, size_t from, int seconds = 60) {
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    while (out.find(needle, from) == std::string::npos) {
      if (Clock::now() > end || !pump(100)) return out.find(needle, from) != std::string::npos;
    }
    return true;
  }
  // The n-th answer's statistics line has been printed, and the prompt after it.
  bool wait_answers(int n, int seconds = 60) {
    size_t at = 0;
    for (int i = 0; i < n; ++i) {
      if (!wait_for("tokens/s", at, seconds)) return false;
      at = out.find("tokens/s", at) + 1;
    }
    return wait_for("> ", at, seconds);
  }
  int answers() const {
    int n = 0;
    for (size_t p = out.find("tokens/s"); p != std::string::npos; p = out.find("tokens/s", p + 1)) ++n;
    return n;
  }
  // Ctrl-D on an empty line, then the exit status. A key typed while libedit is still switching the
  // terminal to raw mode can be dropped (seen under a loaded machine), so it is pressed again, as a user
  // would, up to three times.
  int ctrl_d_exit() {
    for (int i = 0; i < 3; ++i) {
      type("\x04");
      const int st = wait_exit(10);
      if (st != -1 || pid_ < 0) return st;
    }
    return wait_exit(20);
  }
  // Waits for the process to end; its exit status, or -1 (killed, or still running after `seconds`).
  int wait_exit(int seconds = 20) {
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < end) {
      pump(50);
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
    }
    return -1;
  }

  std::string out;

 private:
  // Reads what is available within `ms`; false once the terminal is closed (the process ended).
  bool pump(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return true;
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    out.append(buf, size_t(n));
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
};

std::vector<std::string> user_messages(const Json& conv) {
  std::vector<std::string> u;
  for (const Json& m : conv["messages"])
    if (m["role"] == "user") u.push_back(m["content"]);
  return u;
}

TEST(ChatPty, HistoryMultiLineSaveLoadAndHistoryAcrossRuns) {
  const std::string dir = work_dir(), history = dir + "/state/history", a = dir + "/a.json", b = dir + "/b.json";
  const std::vector<std::string> args{"--model", dir + "/demo", "--max-tokens", "4", "--greedy", "--history", history,
                                      "--system", "be brief"};
  {
    PtyChat chat(args);
    ASSERT_TRUE(chat.started());
    ASSERT_TRUE(chat.wait_for("> ", 0)) << chat.out;
    chat.type("hello there\r");
    ASSERT_TRUE(chat.wait_answers(1)) << chat.out;
    chat.type("\x1b[A\r");  // arrow up: the last message again
    ASSERT_TRUE(chat.wait_answers(2)) << chat.out;
    size_t mark = chat.out.size();
    chat.type("\"\"\"\r");
    ASSERT_TRUE(chat.wait_for("... ", mark)) << chat.out;
    chat.type("line one\r");
    chat.type("line two\r");
    chat.type("\"\"\"\r");
    ASSERT_TRUE(chat.wait_answers(3)) << chat.out;
    chat.type("first \\\r");
    chat.type("second\r");
    ASSERT_TRUE(chat.wait_answers(4)) << chat.out;
    chat.type("typo that is dropped");
    chat.type("\x03");  // Ctrl-C at the prompt: the line goes, the chat stays
    mark = chat.out.size();
    ASSERT_TRUE(chat.wait_for("> ", mark)) << chat.out;
    chat.type("/save " + a + "\r");
    ASSERT_TRUE(chat.wait_for("(conversation saved to " + a, 0)) << chat.out;
    chat.type("/reset\r/load " + a + "\r");
    ASSERT_TRUE(chat.wait_for("(loaded 9 messages from " + a, 0)) << chat.out;
    chat.type("/save " + b + "\r");
    ASSERT_TRUE(chat.wait_for("(conversation saved to " + b, 0)) << chat.out;
    chat.type("remember me\r");
    ASSERT_TRUE(chat.wait_answers(5)) << chat.out;
    EXPECT_EQ(chat.out.find("error"), std::string::npos) << chat.out;
    EXPECT_EQ(chat.ctrl_d_exit(), 0) << chat.out;  // Ctrl-D on an empty line
  }
  const Json conv = Json::parse(read_file(a));
  ASSERT_EQ(conv["messages"].size(), 9u) << conv.dump(2);
  EXPECT_EQ(conv["messages"][0], Json({{"role", "system"}, {"content", "be brief"}}));
  EXPECT_EQ(user_messages(conv),
            (std::vector<std::string>{"hello there", "hello there", "line one\nline two", "first \nsecond"}));
  for (size_t i = 2; i < 9; i += 2) EXPECT_EQ(conv["messages"][i]["role"], "assistant") << conv.dump(2);
  EXPECT_EQ(read_file(b), read_file(a)) << "/load then /save changed the conversation";
  EXPECT_NE(read_file(history).find("remember"), std::string::npos) << "history file: " << read_file(history);

  // The next run finds the history: arrow up brings back the last message of the previous run.
  {
    PtyChat chat(args);
    ASSERT_TRUE(chat.wait_for("> ", 0)) << chat.out;
    chat.type("\x1b[A\r");
    ASSERT_TRUE(chat.wait_answers(1)) << chat.out;
    chat.type("/save " + dir + "/c.json\r");
    ASSERT_TRUE(chat.wait_for("(conversation saved", 0)) << chat.out;
    EXPECT_EQ(chat.ctrl_d_exit(), 0) << chat.out;
  }
  EXPECT_EQ(user_messages(Json::parse(read_file(dir + "/c.json"))), std::vector<std::string>{"remember me"});
}

TEST(ChatPty, CtrlCStopsAnAnswer) {
  const std::string dir = work_dir();
  // Greedy decoding of the demo model's random weights does not end by itself within these tokens.
  PtyChat chat({"--model", dir + "/demo", "--max-tokens", "4000", "--greedy", "--no-history"});
  ASSERT_TRUE(chat.wait_for("> ", 0)) << chat.out;
  chat.type("tell me a long story\r");
  const size_t mark = chat.out.size();
  // Wait until the answer is visibly streaming, then interrupt it.
  const auto end = Clock::now() + std::chrono::seconds(60);
  while (chat.out.size() < mark + 200 && Clock::now() < end) chat.wait_for("\x01never", 0, 1);
  chat.type("\x03");
  ASSERT_TRUE(chat.wait_answers(1)) << chat.out;
  EXPECT_NE(chat.out.find(", stopped]"), std::string::npos) << chat.out;
  chat.type("/exit\r");
  EXPECT_EQ(chat.wait_exit(), 0) << chat.out;
}

// Piped input (no terminal, no libedit) follows the same multi-line rules and commands; /load refuses
// a file that is not a conversation, naming what is wrong.
TEST(ChatPiped, MultiLineMessagesSaveAndBadLoads) {
  const std::string dir = work_dir(), input = dir + "/piped.txt", saved = dir + "/piped.json";
  std::ofstream(dir + "/bad.json") << R"({"messages": [{"role": "wizard", "content": "hi"}]})";
  std::ofstream(dir + "/key.json") << R"({"messages": [], "tools": []})";
  std::ofstream(input) << "\"\"\"first line\nsecond line\n\"\"\"\nleft \\\nright\n\"\"\"one-line block\"\"\"\n/save " << saved
                       << "\n/load " << dir << "/bad.json\n/load " << dir << "/key.json\n/load " << dir << "/missing.json\n/exit\n";
  auto r = g4::test::run_cli("chat --model " + dir + "/demo --max-tokens 3 --greedy --history " + dir +
                             "/never-written < " + input);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(user_messages(Json::parse(read_file(saved))),
            (std::vector<std::string>{"first line\nsecond line", "left \nright", "one-line block"}));
  EXPECT_NE(access((dir + "/never-written").c_str(), F_OK), 0) << "piped input must not write a history file";
  EXPECT_NE(r.out.find("bad.json: message 1: unknown role \"wizard\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("key.json: the key \"tools\" is not supported by chat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing.json"), std::string::npos) << r.out;
}

}  // namespace

#pragma once
// `gemma4 serve` in a child process for the server tests, and the runner of the npm client scripts
// (tests/server/*.cjs: the official `openai` and `@anthropic-ai/sdk` packages).
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace g4::test {

// A whole text file ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `gemma4 serve` in a child process, killed on teardown (and by the kernel if this process dies).
struct ServerProc {
  pid_t pid = -1;
  int port = 0;
  std::string log_path;

  bool start(const std::vector<std::string>& args, const std::string& log) {
    log_path = log;
    int fds[2];
    if (pipe(fds) != 0) return false;
    const pid_t parent = getpid();
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
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
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

  // The end of the server's log, for a failed test's report.
  std::string log_tail(size_t max = 6000) const {
    const std::string log = read_file(log_path);
    return log.size() > max ? log.substr(log.size() - max) : log;
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


// Runs one of the npm client scripts with `args` (space-separated, already quoted as needed); the script
// prints one line per check and "N passed, M failed". Fails the test unless all passed.
inline void run_node_client(const std::string& script, const char* package, const std::string& args) {
  ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0) << "node is not installed (scripts/install-deps.sh installs it)";
  const std::string src = std::string(G4_SOURCE_DIR) + "/tests/server";
  struct stat st{};
  if (stat((src + "/node_modules/" + package + "/package.json").c_str(), &st) != 0) {
    // scripts/install-deps.sh normally does this.
    const int rc = std::system(("cd '" + src + "' && npm ci --no-audit --no-fund --loglevel=error >&2").c_str());
    ASSERT_EQ(rc, 0) << "npm ci failed";
  }
  const std::string cmd = "node '" + src + "/" + script + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  std::cout << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find(" passed, 0 failed"), std::string::npos) << out;
}

}  // namespace g4::test

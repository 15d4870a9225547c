#pragma once
// Shared helpers for tests: fixture paths and tensor comparisons.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cmath>
#include <string>
#include <vector>

namespace g4::test {

inline std::string shared_dir() { return G4_SHARED_DIR; }
inline std::string fixture(const std::string& name) { return shared_dir() + "/fixtures/hf/" + name; }

// max |a - b| / max |b|: the relative error measure the fixtures are judged by.
inline double rel_error(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return den > 0 ? num / den : num;
}

inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  return rel_error(a.data(), b.data(), a.size());
}

inline int argmax(const float* x, size_t n) {
  return int(std::max_element(x, x + n) - x);
}

struct CliResult {
  int status;       // exit code (-1 when killed by a signal)
  std::string out;  // stdout followed by stderr, interleaved as written
};

#ifndef G4_EMULATOR
#define G4_EMULATOR ""  // a cross build's emulator, "qemu-aarch64-static -L /" (CMakeLists.txt)
#endif

// Runs the gemma4 binary of this build with `args` (shell syntax) and captures its output.
inline CliResult run_cli(const std::string& args) {
  std::string cmd = std::string(G4_BINARY) + " " + args + " 2>&1";
  if (const std::string emulator = G4_EMULATOR; !emulator.empty()) cmd = emulator + " " + cmd;  // cross builds
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace g4::test

#pragma once
// Helpers the CLI tests share: a temporary folder removed afterwards, and a fixture's prompt ids as the
// comma-separated list `--ids` takes.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "formats/safetensors.h"

namespace g4::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    path_ = "/tmp/g4-" + prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter_++);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& n) const { return path_ + "/" + n; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

// The fixture's reference `input_ids` as "2,17,99,…".
inline std::string fixture_ids_csv(const std::string& dir) {
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::string s;
  for (int64_t v : tensor_to_i64(*ref->find("input_ids"))) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

}  // namespace g4::test

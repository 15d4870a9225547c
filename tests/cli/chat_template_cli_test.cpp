// Runs `gemma4 chat-template` as a user would and checks the printed text byte for byte against the
// Python Jinja2 renders in ../shared/fixtures/chat/gemma4-cases.json.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

const std::string kChatDir = std::string(G4_SHARED_DIR) + "/fixtures/chat";

struct Result {
  int status = -1;
  std::string out;
};

Result run(const std::string& args) {
  Result r;
  std::string cmd = std::string(G4_BINARY) + " chat-template " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("g4_tpl_cli_" + std::to_string(::getpid()) + "_" +
                                                      std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

nlohmann::ordered_json load_cases() {
  std::ifstream f(kChatDir + "/gemma4-cases.json");
  return nlohmann::ordered_json::parse(f);
}

TEST(ChatTemplateCli, EveryFixtureCaseByteExact) {
  auto cases = load_cases();
  TempDir dir;
  int pass = 0, total = 0;
  for (const auto& c : cases["cases"]) {
    ++total;
    dir.write("conv.json", c["context"].dump());
    Result r = run("--template " + kChatDir + "/gemma4-31b-it.jinja --conversation " + dir.file("conv.json"));
    EXPECT_EQ(r.status, 0) << c["name"];
    EXPECT_EQ(r.out, c["expected"].get<std::string>()) << c["name"];
    if (r.status == 0 && r.out == c["expected"].get<std::string>()) ++pass;
  }
  std::printf("gemma4 chat-template: %d/%d fixture renders byte-exact\n", pass, total);
}

TEST(ChatTemplateCli, ModelFolderSuppliesTemplateAndSpecialTokens) {
  auto cases = load_cases();
  const auto& c = cases["cases"][0];
  TempDir model;
  std::ifstream src(kChatDir + "/gemma4-31b-it.jinja", std::ios::binary);
  model.write("chat_template.jinja", std::string(std::istreambuf_iterator<char>(src), {}));
  model.write("tokenizer_config.json", R"({"bos_token": "<bos>", "eos_token": "<eos>"})");
  nlohmann::ordered_json conv = c["context"];
  conv.erase("bos_token");  // comes from tokenizer_config.json
  model.write("conv.json", conv.dump());
  Result r = run("--model " + model.path() + " --conversation " + model.file("conv.json"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, c["expected"].get<std::string>());
}

TEST(ChatTemplateCli, ErrorsExitNonZero) {
  TempDir dir;
  dir.write("bad.json", R"({"no_messages": true})");
  EXPECT_NE(run("--template " + kChatDir + "/gemma4-31b-it.jinja --conversation " + dir.file("bad.json")).status, 0);
  dir.write("conv.json", R"({"messages": []})");
  dir.write("raise.jinja", "{{ raise_exception('nope') }}");
  Result r = run("--template " + dir.file("raise.jinja") + " --conversation " + dir.file("conv.json"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(run("--conversation " + dir.file("conv.json")).status, 0);  // neither --model nor --template
}

}  // namespace

// `gemma4 pull` and --model REPO[:QUANT] against tests/hub/fake_hub.py, a local stand-in for the hub's file
// API on 127.0.0.1: the cache layout huggingface_hub writes, quantization choice, a transfer that breaks off
// and resumes, a checksum that does not match, gated repos. Nothing leaves the machine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_util.h"

namespace fs = std::filesystem;
using g4::test::CliResult;
using g4::test::run_cli;

namespace {

// A shell command line, stdout and stderr together.
CliResult sh(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The repositories the fake hub serves, built once per process: a GGUF repo of the (tiny) E2B fixture in two
// quantizations plus a projector and a README, and the same fixture as a safetensors checkpoint.
const std::string& hub_root() {
  static const std::string root = [] {
    const std::string r = "/tmp/g4-fake-hub-" + std::to_string(getpid());
    fs::remove_all(r);
    const std::string fx = g4::test::fixture("g4-e2b"), gguf = r + "/org/demo-GGUF", ckpt = r + "/google/tiny-ckpt";
    fs::create_directories(gguf);
    fs::create_directories(ckpt);
    for (const char* t : {"q8_0", "q4_0"}) {
      std::string upper = t;
      for (char& c : upper) c = char(std::toupper(c));
      CliResult c = run_cli("convert --quiet --model " + fx + " --type " + t + " --out " + gguf + "/demo-" + upper + ".gguf");
      EXPECT_EQ(c.status, 0) << c.out;
    }
    std::ofstream(gguf + "/mmproj-demo-f16.gguf") << "GGUF not a model";
    std::ofstream(gguf + "/README.md") << "# demo\n";
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) fs::copy_file(fx + "/" + f, ckpt + "/" + f);
    std::ofstream(ckpt + "/README.md") << "# not pulled\n";
    return r;
  }();
  static const struct Cleanup {
    ~Cleanup() { fs::remove_all(root); }
  } cleanup;
  return root;
}

class FakeHub {
 public:
  explicit FakeHub(const std::string& extra = "") {
    static int n = 0;
    dir_ = "/tmp/g4-pull-" + std::to_string(getpid()) + "-" + std::to_string(n++);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string port_file = dir_ + "/port";
    const std::string root = hub_root();  // built here, not in the child
    pid_ = fork();
    if (pid_ == 0) {
      const std::string cmd = "exec python3 " + std::string(G4_SOURCE_DIR) + "/tests/hub/fake_hub.py --root " + root +
                              " --port-file " + port_file + " --log " + dir_ + "/requests.log " + extra;
      execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    port_ = slurp(port_file);
  }
  ~FakeHub() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  bool up() const { return !port_.empty(); }
  std::string cache() const { return dir_ + "/cache"; }
  // gemma4 with this hub and cache, and no token but `token`.
  std::string env(const std::string& token = "", const std::string& more = "") const {
    return "env -u HF_TOKEN -u HUGGING_FACE_HUB_TOKEN -u HF_HUB_OFFLINE HOME=" + dir_ + " HF_HOME=" + dir_ + "/hf" +
           " HF_HUB_CACHE=" + cache() + " HF_ENDPOINT=http://127.0.0.1:" + port_ + "/" +
           (token.empty() ? "" : " HF_TOKEN=" + token) + " " + more + " " + std::string(G4_BINARY);
  }
  CliResult gemma4(const std::string& args, const std::string& token = "") const {
    return sh("</dev/null " + env(token) + " " + args);
  }
  std::string log() const { return slurp(dir_ + "/requests.log"); }

 private:
  std::string dir_, port_;
  pid_t pid_ = -1;
};

// The last line of the output (pull prints the model's path last on stdout).
std::string strip(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.substr(t.find_last_of('\n') == std::string::npos ? 0 : t.find_last_of('\n') + 1);
}

std::string commit_of(const std::string& repo) {  // what fake_hub.py reports: the sha1 of the repo id
  return sh("printf %s " + repo + " | sha1sum | cut -c1-40").out.substr(0, 40);
}

TEST(PullCli, GgufByQuantIntoTheHuggingFaceLayout) {
  FakeHub hub;
  ASSERT_TRUE(hub.up());
  CliResult r = hub.gemma4("pull org/demo-GGUF:q8_0");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string repo = hub.cache() + "/models--org--demo-GGUF", commit = commit_of("org/demo-GGUF");
  const std::string link = repo + "/snapshots/" + commit + "/demo-Q8_0.gguf";
  EXPECT_EQ(strip(r.out), link) << r.out;
  ASSERT_TRUE(fs::is_symlink(link));
  const std::string target = fs::read_symlink(link).string();
  EXPECT_EQ(target.rfind("../../blobs/", 0), 0u) << target;
  EXPECT_EQ(target.size(), 12u + 64u) << "a blob named by its sha256: " << target;
  EXPECT_EQ(slurp(link), slurp(hub_root() + "/org/demo-GGUF/demo-Q8_0.gguf"));
  EXPECT_EQ(slurp(repo + "/refs/main"), commit);
  EXPECT_FALSE(fs::exists(repo + "/snapshots/" + commit + "/demo-Q4_0.gguf"));   // only the quant asked for
  EXPECT_FALSE(fs::exists(repo + "/snapshots/" + commit + "/mmproj-demo-f16.gguf"));
  for (const auto& e : fs::directory_iterator(repo + "/blobs")) EXPECT_EQ(e.path().extension(), "") << e.path();

  // The model is now found by name, by every command, and runs.
  r = hub.gemma4("info -m org/demo-GGUF:Q8_0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Q8_0 x"), std::string::npos) << r.out;
  r = hub.gemma4("run -m org/demo-GGUF:Q8_0 -p hi -n 3 --greedy");
  EXPECT_EQ(r.status, 0) << r.out;

  // A second pull downloads nothing.
  r = hub.gemma4("pull org/demo-GGUF:Q8_0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 files downloaded"), std::string::npos) << r.out;

  // Without a quant: llama.cpp's default Q4_K_M, then Q8_0 — cached already, so no download.
  r = hub.gemma4("pull org/demo-GGUF");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(strip(r.out).find("demo-Q8_0.gguf"), std::string::npos) << r.out;

  // A quant the repo does not have: the ones it has.
  r = hub.gemma4("pull org/demo-GGUF:Q5_K_M");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("available: Q4_0, Q8_0"), std::string::npos) << r.out;
}

TEST(PullCli, CheckpointAndMissingRepos) {
  FakeHub hub;
  ASSERT_TRUE(hub.up());
  // Not cached: a clear error naming `gemma4 pull`, without a terminal to ask on.
  CliResult r = hub.gemma4("info -m google/tiny-ckpt");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("gemma4 pull google/tiny-ckpt"), std::string::npos) << r.out;
  r = hub.gemma4("run -m google/tiny-ckpt -p hi");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--pull"), std::string::npos) << r.out;

  r = hub.gemma4("pull google/tiny-ckpt");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string snap = hub.cache() + "/models--google--tiny-ckpt/snapshots/" + commit_of("google/tiny-ckpt");
  EXPECT_EQ(strip(r.out), snap);
  EXPECT_TRUE(fs::exists(snap + "/config.json"));
  EXPECT_TRUE(fs::exists(snap + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(snap + "/README.md"));
  r = hub.gemma4("info -m google/tiny-ckpt");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("trained context"), std::string::npos) << r.out;

  r = sh(hub.env("", "HF_HUB_OFFLINE=1") + " pull google/tiny-ckpt");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("HF_HUB_OFFLINE is set"), std::string::npos) << r.out;

  r = hub.gemma4("pull nobody/nothing");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("nobody/nothing"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n", r.out.find("error")), r.out.size() - 1) << "one line: " << r.out;
}

TEST(PullCli, BrokenTransferResumesWithARangeRequest) {
  FakeHub hub("--interrupt demo-Q4_0.gguf");
  ASSERT_TRUE(hub.up());
  CliResult r = hub.gemma4("pull org/demo-GGUF:Q4_0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(strip(r.out)), slurp(hub_root() + "/org/demo-GGUF/demo-Q4_0.gguf"));
  const std::string log = hub.log();
  const size_t half = fs::file_size(hub_root() + "/org/demo-GGUF/demo-Q4_0.gguf") / 2;
  EXPECT_NE(log.find("GET /_cdn/org/demo-GGUF/demo-Q4_0.gguf -"), std::string::npos) << log;
  EXPECT_NE(log.find("GET /_cdn/org/demo-GGUF/demo-Q4_0.gguf bytes=" + std::to_string(half) + "-"), std::string::npos) << log;
}

TEST(PullCli, AnInterruptedPullIsResumedByTheNextOne) {
  FakeHub hub;
  ASSERT_TRUE(hub.up());
  // What a pull killed half way leaves: blobs/<sha256>.incomplete with the first bytes.
  const std::string src = hub_root() + "/org/demo-GGUF/demo-Q4_0.gguf", data = slurp(src);
  const std::string blob = sh("sha256sum " + src).out.substr(0, 64);
  const std::string blobs = hub.cache() + "/models--org--demo-GGUF/blobs";
  fs::create_directories(blobs);
  std::ofstream(blobs + "/" + blob + ".incomplete", std::ios::binary) << data.substr(0, 1000);
  CliResult r = hub.gemma4("pull org/demo-GGUF:Q4_0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(slurp(blobs + "/" + blob), data);
  EXPECT_FALSE(fs::exists(blobs + "/" + blob + ".incomplete"));
  EXPECT_NE(hub.log().find("demo-Q4_0.gguf bytes=1000-"), std::string::npos) << hub.log();
}

TEST(PullCli, AWrongChecksumIsRefusedAndNothingIsLeft) {
  FakeHub hub("--bad-sha demo-Q8_0.gguf");
  ASSERT_TRUE(hub.up());
  CliResult r = hub.gemma4("pull org/demo-GGUF:Q8_0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("checksum mismatch for demo-Q8_0.gguf"), std::string::npos) << r.out;
  const std::string repo = hub.cache() + "/models--org--demo-GGUF";
  EXPECT_TRUE(!fs::exists(repo + "/blobs") || fs::is_empty(repo + "/blobs")) << "no blob, complete or not";
  EXPECT_FALSE(fs::exists(repo + "/snapshots"));
  EXPECT_FALSE(fs::exists(repo + "/refs/main"));
  r = hub.gemma4("info -m org/demo-GGUF:Q8_0");
  EXPECT_NE(r.status, 0) << r.out;
}

TEST(PullCli, AListingAndARedirectThatDisagreeAreRefused) {
  FakeHub hub("--bad-etag demo-Q8_0.gguf");
  ASSERT_TRUE(hub.up());
  CliResult r = hub.gemma4("pull org/demo-GGUF:Q8_0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("X-Linked-Etag for demo-Q8_0.gguf"), std::string::npos) << r.out;
  const std::string blobs = hub.cache() + "/models--org--demo-GGUF/blobs";
  EXPECT_TRUE(!fs::exists(blobs) || fs::is_empty(blobs)) << "nothing kept";
}

TEST(PullCli, GatedReposSayWhatToDo) {
  FakeHub hub("--gated hf_granted");
  ASSERT_TRUE(hub.up());
  CliResult r = hub.gemma4("pull org/demo-GGUF:Q8_0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("gated or private and no token is set"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HF_TOKEN"), std::string::npos) << r.out;
  r = hub.gemma4("pull org/demo-GGUF:Q8_0", "hf_someone_else");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("your token has no access to org/demo-GGUF (HTTP 403)"), std::string::npos) << r.out;
  r = hub.gemma4("pull org/demo-GGUF:Q8_0", "hf_invalid");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("refused the token"), std::string::npos) << r.out;
  r = hub.gemma4("pull org/demo-GGUF:Q8_0", "hf_granted");
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(PullCli, RunOffersToPullOnATerminal) {
  FakeHub hub;
  ASSERT_TRUE(hub.up());
  // script(1) gives gemma4 a pseudo-terminal; the answer comes through it.
  const std::string cmd = hub.env() + " run -m org/demo-GGUF:Q8_0 -p hi -n 2 --greedy";
  CliResult no = sh("printf 'n\\n' | script -qec '" + cmd + "' /dev/null");
  EXPECT_NE(no.status, 0) << no.out;
  EXPECT_NE(no.out.find("Download it now? [Y/n]"), std::string::npos) << no.out;
  EXPECT_NE(no.out.find("gemma4 pull org/demo-GGUF:Q8_0"), std::string::npos) << no.out;
  CliResult yes = sh("printf 'y\\n' | script -qec '" + cmd + "' /dev/null");
  EXPECT_EQ(yes.status, 0) << yes.out;
  EXPECT_TRUE(fs::exists(hub.cache() + "/models--org--demo-GGUF/refs/main"));
  // --pull does it unasked, without a terminal.
  CliResult pulled = hub.gemma4("run -m org/demo-GGUF:Q4_0 -p hi -n 2 --greedy --pull");
  EXPECT_EQ(pulled.status, 0) << pulled.out;
}

}  // namespace

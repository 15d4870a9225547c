// run and chat with --draft: the same answer as without (greedy), through the chat template and the
// ChatSession's cache bookkeeping; synth-drafter writes a drafter that fits; a misfit is refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "test_util.h"

namespace {

class DraftCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-draft-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto r = g4::test::run_cli("demo-model --out " + dir_ + "/demo");
    ASSERT_EQ(r.status, 0) << r.out;
    // Small (the head is vocabulary x hidden): 2 layers, 32 wide.
    r = g4::test::run_cli("synth-drafter --model " + dir_ + "/demo --out " + dir_ + "/drafter --hidden 32 --ffn 64 --heads 4 --layers 2 --ordered no");
    ASSERT_EQ(r.status, 0) << r.out;
  }
  static void TearDownTestSuite() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  static inline std::string dir_;
};

std::string answer_of(const std::string& out) { return out.substr(0, out.find("prompt:")); }

TEST_F(DraftCli, RunGivesTheSameGreedyAnswer) {
  const std::string base = "run --model " + dir_ + "/demo -p 'Tell me a story' --greedy --max-tokens 40 --threads 1 --stats";
  auto plain = g4::test::run_cli(base);
  auto spec = g4::test::run_cli(base + " --draft " + dir_ + "/drafter --draft-max 3");
  ASSERT_EQ(plain.status, 0) << plain.out;
  ASSERT_EQ(spec.status, 0) << spec.out;
  EXPECT_EQ(answer_of(plain.out), answer_of(spec.out));
  EXPECT_NE(spec.out.find("speculative: drafted "), std::string::npos) << spec.out;
}

TEST_F(DraftCli, ChatTurnsGiveTheSameGreedyAnswers) {
  // Two turns: the second reuses the cache the first left after its roll-backs.
  const std::string base = "chat --model " + dir_ + "/demo --greedy --max-tokens 24 --threads 1";
  const std::string input = "printf 'Hello\\nAnd then?\\n/exit\\n' | ";
  auto plain = g4::test::run_cli(base + " < /dev/null");  // warm-up of the command line only
  ASSERT_EQ(plain.status, 0) << plain.out;
  std::string cmd_plain = input + G4_BINARY + std::string(" ") + base + " 2>/dev/null";
  std::string cmd_spec = input + G4_BINARY + std::string(" ") + base + " --draft " + dir_ + "/drafter 2>/dev/null";
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  const std::string a = run(cmd_plain), b = run(cmd_spec);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST_F(DraftCli, MisfitDrafterIsRefused) {
  auto r = g4::test::run_cli("run --model " + dir_ + "/demo -p hi --draft " + g4::test::fixture("g4-e4b-assistant") + "/drafter");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("does not fit"), std::string::npos) << r.out;
}

}  // namespace

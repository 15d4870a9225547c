// `run` and `chat` end to end on the demo model (random weights, real vocabulary and template).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/mapped_file.h"
#include "test_util.h"

namespace g4 {
namespace {

using test::run_cli;

const std::string& demo_model() {
  static const std::string dir = [] {
    std::string d = "/tmp/g4-chat-demo-" + std::to_string(getpid());
    auto r = run_cli("demo-model --out " + d);
    EXPECT_EQ(r.status, 0) << r.out;
    return d;
  }();
  // Removed at exit (constructed after `dir`, so destroyed before it): each test process made its own.
  static const struct Cleanup {
    ~Cleanup() { std::system(("rm -rf '" + dir + "'").c_str()); }
  } cleanup;
  return dir;
}

TEST(RunCli, StreamsAnAnswerAndReportsStats) {
  auto r = run_cli("run --model " + demo_model() + " -p 'Hello there' --max-tokens 8 --greedy --stats");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("answer: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;
}

TEST(RunCli, GreedyIsDeterministicAndSeedReproduces) {
  auto a = run_cli("run --model " + demo_model() + " -p 'Count to three' --max-tokens 12 --greedy 2>/dev/null");
  auto b = run_cli("run --model " + demo_model() + " -p 'Count to three' --max-tokens 12 --greedy 2>/dev/null");
  ASSERT_EQ(a.status, 0);
  EXPECT_EQ(a.out, b.out);
  auto c = run_cli("run --model " + demo_model() + " -p 'Count to three' --max-tokens 12 --seed 7 --temperature 1.5 2>/dev/null");
  auto d = run_cli("run --model " + demo_model() + " -p 'Count to three' --max-tokens 12 --seed 7 --temperature 1.5 2>/dev/null");
  EXPECT_EQ(c.out, d.out);
}

TEST(RunCli, BadSamplingFlagIsAClearError) {
  auto r = run_cli("run --model " + demo_model() + " -p hi --top-p 1.5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("top_p"), std::string::npos) << r.out;
}

TEST(ChatCli, MultiTurnWithCommands) {
  const std::string input = "/tmp/g4-chat-input-" + std::to_string(getpid());
  {
    FILE* f = fopen(input.c_str(), "w");
    fputs("hello\n/think\nagain\n/reset\n/system be brief\nthird\n/exit\n", f);
    fclose(f);
  }
  auto r = run_cli("chat --model " + demo_model() + " --max-tokens 6 --greedy < " + input);
  std::remove(input.c_str());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(thinking on)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(conversation cleared)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(system prompt set; conversation cleared)"), std::string::npos) << r.out;
  size_t answers = 0;
  for (size_t p = r.out.find("tokens/s]"); p != std::string::npos; p = r.out.find("tokens/s]", p + 1)) ++answers;
  EXPECT_EQ(answers, 3u) << r.out;
}

// Context full: chat drops the oldest turns (and says so), run refuses a prompt that cannot fit and
// says when an answer stopped at the end of the context.
TEST(ChatCli, ContextFullPolicy) {
  const std::string input = "/tmp/g4-chat-ctx-" + std::to_string(getpid());
  const std::string line =
      "tell me about the history of the city and its bridges and rivers and the people who built them long ago\n";
  {
    FILE* f = fopen(input.c_str(), "w");
    for (int i = 0; i < 3; ++i) fputs(line.c_str(), f);
    fclose(f);
  }
  auto r = run_cli("chat --model " + demo_model() + " --ctx 100 --max-tokens 20 --greedy < " + input);
  std::remove(input.c_str());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("[the context was full: the 1 oldest turn of the conversation was dropped]"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("error"), std::string::npos) << r.out;

  std::string long_prompt;
  for (int i = 0; i < 20; ++i) long_prompt += "more words here ";
  auto refused = run_cli("run --model " + demo_model() + " --ctx 32 -p '" + long_prompt + "' --max-tokens 4");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.out.find("more than the context of 32 tokens holds"), std::string::npos) << refused.out;

  // Greedy on the demo model's random weights does not pick an end-of-turn token within these few steps.
  auto cut = run_cli("run --model " + demo_model() + " --ctx 24 -p 'hi' --max-tokens 100 --greedy --stats");
  ASSERT_EQ(cut.status, 0) << cut.out;
  EXPECT_NE(cut.out.find("because the context of 24 tokens is full"), std::string::npos) << cut.out;
  std::remove(input.c_str());
}

}  // namespace
}  // namespace g4

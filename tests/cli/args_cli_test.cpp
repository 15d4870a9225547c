// The command line as people coming from llama.cpp type it: its flags as aliases, flags that do not apply
// noted (never silently dropped), typos answered with the nearest option, prompts from stdin or a file,
// --version and `help COMMAND`; and one meaning per option (--max-tokens -1, --ctx against the model).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.h"

using g4::test::CliResult;
using g4::test::run_cli;
namespace fs = std::filesystem;

namespace {

// The E2B fixture (vocabulary 512, trained context 4096) as a Q8_0 GGUF with the Gemma 4 tokenizer and chat
// template: small enough to load in milliseconds.
const std::string& demo_gguf() {
  static const std::string path = [] {
    const std::string p = "/tmp/g4-args-tiny-" + std::to_string(getpid()) + ".gguf";
    CliResult r = run_cli("convert --quiet --model " + g4::test::fixture("g4-e2b") + " --type q8_0 --out " + p);
    EXPECT_EQ(r.status, 0) << r.out;
    return p;
  }();
  static const struct Cleanup {
    ~Cleanup() { fs::remove(path); }
  } cleanup;
  return path;
}
const std::string& demo() { return demo_gguf(); }

std::string stdout_of(const std::string& args) { return run_cli(args + " 2>/dev/null").out; }

// stdout of a shell command line.
std::string sh_stdout(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(ArgsCli, LlamaCppSpellingsMeanTheSame) {
  const std::string ours = stdout_of("run --model " + demo() + " --prompt 'Name a colour' --max-tokens 6 --ctx 512 --threads 1 "
                                     "--seed 7 --temperature 0.7 --top-k 5 --top-p 0.9 --min-p 0.01 --repeat-penalty 1.1 "
                                     "--system 'Be brief' --load read");
  const std::string theirs = stdout_of("run -m " + demo() + " -p 'Name a colour' -n 6 -c 512 -t 1 -s 7 --temp 0.7 --top-k 5 "
                                       "--top-p 0.9 --min-p 0.01 --repeat-penalty 1.1 -sys 'Be brief' --no-mmap --jinja");
  EXPECT_FALSE(ours.empty());
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(stdout_of("run -m " + demo() + " -p hi --n-predict 4 --ctx-size 256 --greedy"),
            stdout_of("run -m " + demo() + " -p hi --max-tokens 4 --ctx 256 --greedy"));
}

TEST(ArgsCli, LlamaBenchSpellingsForBench) {
  CliResult r = run_cli("bench -m " + demo() + " -p 8 -n 4 -r 2 -d 4 --warmup 0 -t 1 --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("\"pp\":8,\"tg\":4,\"depth\":4"), std::string::npos) << r.out;
  const size_t at = r.out.find("\"pp_samples\":[");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string samples = r.out.substr(at, r.out.find(']', at) - at);
  EXPECT_EQ(std::count(samples.begin(), samples.end(), ','), 1) << "-r 2: two samples: " << samples;
}

TEST(ArgsCli, FlagsThatDoNotApplyAreNotedOnce) {
  CliResult r = run_cli("run -m " + demo() + " -p hi -n 2 --greedy -ngl 99 --mlock -fa on --no-warmup");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("note: -ngl 99 ignored: this engine runs on the CPU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: --mlock ignored"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: -fa on ignored"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: --no-warmup ignored"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("jinja"), std::string::npos);
}

TEST(ArgsCli, UnknownFlagsSuggestTheNearest) {
  CliResult r = run_cli("run -m " + demo() + " -p hi --ctx-sise 256");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown option '--ctx-sise' (did you mean --ctx-size?)"), std::string::npos) << r.out;
  r = run_cli("generate -m " + demo() + " --ids 2 --max-tokns 3");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("did you mean --max-tokens?"), std::string::npos) << r.out;
  r = run_cli("info -m " + demo() + " --frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out.find("did you mean"), std::string::npos) << r.out;
  r = run_cli("rnu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("did you mean 'run'?"), std::string::npos) << r.out;
}

TEST(ArgsCli, PromptFromStdinOrAFile) {
  const std::string direct = stdout_of("run -m " + demo() + " -p 'Tell me a story' -n 5 --greedy");
  EXPECT_FALSE(direct.empty());
  EXPECT_EQ(sh_stdout("printf 'Tell me a story' | " + std::string(G4_BINARY) + " run -m " + demo() + " -p - -n 5 --greedy"),
            direct);
  const std::string file = "/tmp/g4-args-prompt-" + std::to_string(getpid()) + ".txt";
  std::ofstream(file) << "Tell me a story";
  EXPECT_EQ(stdout_of("run -m " + demo() + " -f " + file + " -n 5 --greedy"), direct);
  fs::remove(file);
  CliResult r = run_cli("run -m " + demo() + " -n 5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no prompt"), std::string::npos) << r.out;
  r = run_cli("run -m " + demo() + " -f /nonexistent/prompt.txt");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cannot read"), std::string::npos) << r.out;
}

TEST(ArgsCli, VersionAndHelpCommand) {
  CliResult r = run_cli("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("gemma4 ", 0), 0u) << r.out;
  r = run_cli("help run");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: gemma4 run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("llama.cpp's spellings taken too: -m"), std::string::npos) << r.out;
  EXPECT_NE(run_cli("help pull").out.find("usage: gemma4 pull"), std::string::npos);
}

TEST(ArgsCli, GgufRecognisedByContentNotName) {
  const std::string dir = "/tmp/g4-args-names-" + std::to_string(getpid());
  fs::create_directories(dir);
  fs::create_symlink(demo_gguf(), dir + "/model.bin");
  fs::copy_file(demo_gguf(), dir + "/MODEL.GGUF");
  for (const std::string& m : {dir + "/model.bin", dir + "/MODEL.GGUF"}) {
    CliResult r = run_cli("run -m " + m + " -p hi -n 2 --greedy");
    EXPECT_EQ(r.status, 0) << m << ": " << r.out;
  }
  std::ofstream(dir + "/notes.txt") << "not a model";
  CliResult r = run_cli("info -m " + dir + "/notes.txt");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no GGUF magic"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(ArgsCli, MaxTokensMinusOneIsUnlimitedEverywhere) {
  CliResult r = run_cli("generate -m " + demo() + " --ids 2,3 --max-tokens -1 --ctx 40 --ignore-eos --greedy --json");
  ASSERT_EQ(r.status, 0) << r.out;
  // Until the context is full: 40 - 2 prompt tokens.
  const std::string last = r.out.substr(r.out.rfind("{\"ids\":"));
  EXPECT_EQ(std::count(last.begin(), last.end(), ','), 37) << last;
  r = run_cli("run -m " + demo() + " -p hi --max-tokens -1 -c 64 --greedy");
  EXPECT_EQ(r.status, 0) << r.out;
  r = run_cli("run -m " + demo() + " -p hi --max-tokens -2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--max-tokens must be -1"), std::string::npos) << r.out;
  EXPECT_NE(run_cli("serve --help").out.find("--max-tokens N"), std::string::npos);
  for (const char* cmd : {"run", "chat", "generate", "serve"})
    EXPECT_NE(run_cli(std::string(cmd) + " --help").out.find("(-1: until the answer ends or the context is full) [default: -1]"),
              std::string::npos) << cmd;
}

TEST(ArgsCli, ContextIsCheckedAgainstTheModel) {
  CliResult r = run_cli("info -m " + demo() + " --ctx 99999999999999999999");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--ctx: 99999999999999999999 is out of range"), std::string::npos) << r.out;
  r = run_cli("run -m " + demo() + " -p hi --temperature 1e999");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("out of range"), std::string::npos) << r.out;
  r = run_cli("run -m " + demo() + " -p hi -c 8192");  // the fixture was trained for 4096
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("above the model's trained context of 4096 tokens; add --ctx-extend"), std::string::npos) << r.out;
  r = run_cli("info -m " + demo() + " -c 8192 --ctx-extend");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("warning: --ctx 8192 extends the model's trained context"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("at 8192 tokens"), std::string::npos) << r.out;
  r = run_cli("generate -m " + demo() + " --ids 2,3 -n 1");  // the default: the trained context
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(ArgsCli, ThreadsAboveTheCoresWarn) {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  CliResult r = run_cli("generate -m " + demo() + " --ids 2,3 -n 1 -t " + std::to_string(cores + 1));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("more than the " + std::to_string(cores) + " cores"), std::string::npos) << r.out;
  r = run_cli("generate -m " + demo() + " --ids 2,3 -n 1 -t 1");
  EXPECT_EQ(r.out.find("cores"), std::string::npos) << r.out;
}

TEST(ArgsCli, InfoShowsTypesContextAndLoading) {
  CliResult r = run_cli("info -m " + demo_gguf());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("tensor types:   Q8_0 x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trained context: 4096 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loading:        mapped in place (--load auto)"), std::string::npos) << r.out;  // a small file
  r = run_cli("info -m " + demo_gguf() + " --no-mmap");
  EXPECT_NE(r.out.find("loading:        copied into memory (huge pages) (--load read)"), std::string::npos) << r.out;
}

TEST(ArgsCli, ChatTemplateFileAndMmproj) {
  // A template that ignores the messages: every prompt becomes the same few tokens.
  const std::string tpl = "/tmp/g4-args-tpl-" + std::to_string(getpid()) + ".jinja";
  std::ofstream(tpl) << "{{ bos_token }}<start_of_turn>user\nfixed<end_of_turn>\n<start_of_turn>model\n";
  CliResult a = run_cli("run -m " + demo() + " -p 'a long prompt with many words in it' -n 1 --stats --chat-template-file " + tpl);
  CliResult b = run_cli("run -m " + demo() + " -p 'x' -n 1 --stats --chat-template-file " + tpl);
  ASSERT_EQ(a.status, 0) << a.out;
  const auto prompt_tokens = [](const std::string& out) { return out.substr(out.find("prompt: "), 20); };
  EXPECT_EQ(prompt_tokens(a.out), prompt_tokens(b.out));
  EXPECT_NE(prompt_tokens(a.out), prompt_tokens(run_cli("run -m " + demo() + " -p 'a long prompt with many words in it' -n 1 --stats").out));
  fs::remove(tpl);
  // --mmproj names llama.cpp's projector file: one that is missing is a clear error, not ignored.
  CliResult r = run_cli("run -m " + demo() + " -p hi --mmproj /tmp/g4-no-such-mmproj.gguf");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("cannot open '/tmp/g4-no-such-mmproj.gguf'"), std::string::npos) << r.out;
}

}  // namespace

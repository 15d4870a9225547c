// Runs `gemma4 tokenize` / `gemma4 detokenize` as a user would, on fixture cases.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/json.h"
#include "core/mapped_file.h"

namespace {

const std::string kDir = std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/";

struct Result {
  int status;
  std::string out;
};

// Runs the binary with `args`, feeding `input` on stdin; captures stdout (stderr goes to the log).
Result run(const std::string& args, const std::string& input) {
  // One file per process: ctest runs these tests in parallel processes.
  std::string in_path = testing::TempDir() + "g4_tokenize_cli_input." + std::to_string(getpid()) + ".txt";
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd = std::string("'") + G4_BINARY + "' " + args + " < '" + in_path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

}  // namespace

TEST(TokenizeCli, JsonlMatchesFixtureAndRoundTrips) {
  g4::Json j = g4::parse_json(g4::read_text_file(kDir + "gemma4-cases.json"), "gemma4-cases.json");
  std::string input, expect;
  int n = 0;
  for (const auto& c : j["cases"]) {
    if (n++ >= 40) break;
    input += g4::Json(c["text"]).dump() + "\n";
    expect += c["ids"].dump() + "\n";
  }
  Result r = run("tokenize --model '" + kDir + "gemma4-vocab.gguf' --jsonl", input);
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, expect);

  Result back = run("detokenize --model '" + kDir + "gemma4-vocab.gguf' --jsonl", r.out);
  ASSERT_EQ(back.status, 0);
  auto in_lines = lines(input), out_lines = lines(back.out);
  ASSERT_EQ(in_lines.size(), out_lines.size());
  int same = 0;
  for (size_t i = 0; i < in_lines.size(); ++i) {
    EXPECT_EQ(g4::Json::parse(out_lines[i]), g4::Json::parse(in_lines[i]));
    same += g4::Json::parse(out_lines[i]) == g4::Json::parse(in_lines[i]);
  }
  std::printf("[ fixture  ] gemma4 tokenize/detokenize --jsonl: %d/%zu lines exact\n", same, in_lines.size());
}

TEST(TokenizeCli, SpecialAndBosFlags) {
  const std::string model = "--model '" + kDir + "gemma4-vocab.gguf'";
  EXPECT_EQ(run("tokenize " + model + " --text '<|turn>user'", "").out, "[236820,236909,887,236813,2364]\n");
  EXPECT_EQ(run("tokenize " + model + " --special --text '<|turn>user'", "").out, "[105,2364]\n");
  EXPECT_EQ(run("tokenize " + model + " --bos", "Hello world").out, "[2,9259,1902]\n");
  EXPECT_EQ(run("detokenize " + model + " --ids 2,9259,1902", "").out, "<bos>Hello world\n");
  EXPECT_EQ(run("detokenize " + model + " --skip-special --ids 2,9259,1902", "").out, "Hello world\n");
}

TEST(TokenizeCli, HuggingFaceTokenizerJson) {
  Result r = run("tokenize --model '" + kDir + "gemma3-tokenizer.json' --jsonl --special",
                 "\"<start_of_turn>user\\nHi<end_of_turn>\\n\"\n");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "[105,2364,107,10979,106,107]\n");
}

TEST(TokenizeCli, BadInputGivesClearErrorLines) {
  Result r = run("detokenize --model '" + kDir + "gemma4-vocab.gguf' --jsonl", "[9259]\n[300000]\n[1.5]\nnope\n[1902]\n");
  EXPECT_EQ(r.status, 1);
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], "\"Hello\"");
  EXPECT_NE(out[1].find("line 2: token id 300000 is out of range"), std::string::npos) << out[1];
  EXPECT_NE(out[2].find("line 3"), std::string::npos);
  EXPECT_NE(out[3].find("line 4"), std::string::npos);
  EXPECT_EQ(out[4], "\" world\"");

  Result t = run("tokenize --model '" + kDir + "gemma4-vocab.gguf' --jsonl", "\"ok\"\nnot json\n");
  EXPECT_EQ(t.status, 1);
  EXPECT_NE(t.out.find("line 2"), std::string::npos);

  Result missing = run("tokenize --model /nonexistent/model --text hi 2>&1", "");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
}

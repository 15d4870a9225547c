// The engine's command-line contract (logits, generate, info, --help), exactly as outside checks call it.
#include <gtest/gtest.h>
#include <unistd.h>


#include "core/json.h"
#include "formats/safetensors.h"
#include "test_util.h"

using g4::test::CliResult;
using g4::test::run_cli;

namespace g4 {
namespace {

std::string reference_ids_csv(const std::string& dir, std::vector<int64_t>* ids = nullptr) {
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::string s;
  for (int64_t v : tensor_to_i64(*ref->find("input_ids"))) {
    s += (s.empty() ? "" : ",") + std::to_string(v);
    if (ids) ids->push_back(v);
  }
  return s;
}

class EngineCli : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineCli, LogitsFileMatchesReference) {
  const std::string dir = test::fixture(GetParam());
  const std::string out = "/tmp/g4cli-logits-" + GetParam() + "-" + std::to_string(getpid()) + ".safetensors";
  CliResult r = run_cli("logits --model " + dir + " --ids " + reference_ids_csv(dir) + " --out " + out + " --dump-layers");
  ASSERT_EQ(r.status, 0) << r.out;
  auto got = SafetensorsFile::open(out);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  const TensorInfo* logits = got->find("logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->shape, ref->find("logits")->shape);
  EXPECT_LE(test::rel_error(tensor_to_f32(*logits), tensor_to_f32(*ref->find("logits"))), 1e-4);
  ASSERT_NE(got->find("layer.0"), nullptr);
  EXPECT_LE(test::rel_error(tensor_to_f32(*got->find("layer.0")), tensor_to_f32(*ref->find("layer.0"))), 1e-4);
  ASSERT_NE(got->find("embed"), nullptr);
}

TEST_P(EngineCli, GenerateJsonMatchesGeneratedIds) {
  const std::string dir = test::fixture(GetParam());
  CliResult r = run_cli("generate --model " + dir + " --ids " + reference_ids_csv(dir) + " --max-tokens 20 --greedy --ignore-eos --json");
  ASSERT_EQ(r.status, 0) << r.out;
  // The last stdout line is the JSON; stderr carries the timing line, so find the JSON line.
  std::string line;
  size_t pos = r.out.find("{\"ids\"");
  ASSERT_NE(pos, std::string::npos) << r.out;
  line = r.out.substr(pos, r.out.find('\n', pos) - pos);
  Json j = Json::parse(line);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::vector<int64_t> want = tensor_to_i64(*ref->find("generated_ids"));
  EXPECT_EQ(j["ids"].get<std::vector<int64_t>>(), want);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EngineCli, ::testing::Values("g4-e2b", "g4-e4b", "g4-26b-a4b", "g4-31b", "g3-27b"),
                         [](const auto& info) { std::string s = info.param; for (char& c : s) if (c == '-') c = '_'; return s; });

TEST(EngineCliMisc, InfoDescribesThePerLayerPlan) {
  CliResult r = run_cli("info --model " + test::fixture("g4-e2b"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("gemma4"), std::string::npos);
  // Layer 9 is full attention, KV-shared from layer 4, with a double-wide MLP.
  EXPECT_NE(r.out.find("    9  full           32         1          4   no        192   no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters:"), std::string::npos);
  EXPECT_NE(r.out.find("memory estimate:"), std::string::npos);
}

TEST(EngineCliMisc, HelpOnBinaryAndSubcommands) {
  CliResult top = run_cli("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* cmd : {"logits", "generate", "info"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    CliResult r = run_cli(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("--model"), std::string::npos) << cmd;
  }
}

TEST(EngineCliMisc, ErrorsAreOneClearLineAndNonZeroExit) {
  CliResult missing = run_cli("logits --model /nonexistent --ids 2 --out /tmp/x.safetensors");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("error: model path '/nonexistent' does not exist"), std::string::npos) << missing.out;
  CliResult badids = run_cli("generate --model " + test::fixture("g4-e2b") + " --ids 2,x");
  EXPECT_NE(badids.status, 0);
  EXPECT_NE(badids.out.find("--ids"), std::string::npos) << badids.out;
  CliResult range = run_cli("generate --model " + test::fixture("g4-e2b") + " --ids 2,99999 --max-tokens 1");
  EXPECT_NE(range.status, 0);
  EXPECT_NE(range.out.find("out of range"), std::string::npos) << range.out;
  CliResult unknown = run_cli("frobnicate");
  EXPECT_NE(unknown.status, 0);
  CliResult noopt = run_cli("logits --model " + test::fixture("g4-e2b"));
  EXPECT_NE(noopt.status, 0);
  EXPECT_NE(noopt.out.find("missing required option --ids"), std::string::npos) << noopt.out;
}

}  // namespace
}  // namespace g4

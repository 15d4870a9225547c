// The engine's command-line contract (logits, generate, info, --help), exactly as outside checks call it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

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
  CliResult r = run_cli("generate --model " + dir + " --ids " + reference_ids_csv(dir) + " --max-tokens 20 --greedy --ignore-eos --json --kv-type f32");
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

// The KV-cache estimate of `info`, in bytes ("KV cache:       1.25 MiB at 4096 tokens (f16)").
double info_kv_bytes(const std::string& out, const std::string& type) {
  const size_t at = out.find("KV cache:");
  if (at == std::string::npos) return -1;
  const std::string line = out.substr(at, out.find('\n', at) - at);
  if (line.find("(" + type + ")") == std::string::npos) return -1;
  double v = 0;
  char unit[8] = {};
  if (std::sscanf(line.c_str(), "KV cache: %lf %7s", &v, unit) != 2) return -1;
  for (const char* u : {"B", "KiB", "MiB", "GiB"}) {
    if (std::string(unit) == u) return v;
    v *= 1024;
  }
  return -1;
}

TEST(EngineCliMisc, KvTypeOption) {
  const std::string e2b = test::fixture("g4-e2b");
  CliResult bad = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 1 --kv-type f8");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--kv-type: unknown KV cache type 'f8' (expected one of: f32, f16, bf16, q8_0, q4_0)"),
            std::string::npos)
      << bad.out;
  // Keys and values apart: each option names itself in its error, and both are accepted.
  CliResult bad_v = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 1 --kv-type-v q5");
  EXPECT_NE(bad_v.status, 0);
  EXPECT_NE(bad_v.out.find("--kv-type-v: unknown KV cache type 'q5'"), std::string::npos) << bad_v.out;
  CliResult mixed = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 2 --kv-type-k f32 --kv-type-v bf16 --json");
  EXPECT_EQ(mixed.status, 0) << mixed.out;
  CliResult q4 = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 1 --kv-type-v q4_0");
  EXPECT_NE(q4.status, 0);
  EXPECT_NE(q4.out.find("q4_0 KV cache needs head dims that are multiples of 32"), std::string::npos) << q4.out;
  // q8_0 needs head dims that are multiples of 32; the fixture's are 16.
  CliResult q8 = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 1 --kv-type q8_0");
  EXPECT_NE(q8.status, 0);
  EXPECT_NE(q8.out.find("head_dim 16"), std::string::npos) << q8.out;
  CliResult ok = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 2 --kv-type bf16 --json");
  EXPECT_EQ(ok.status, 0) << ok.out;
  // f16 is the default, except for logits, the exactness tool.
  for (const char* cmd : {"generate", "run", "chat", "serve", "bench", "info"})
    for (const char* opt : {"--kv-type TYPE", "--kv-type-k TYPE", "--kv-type-v TYPE"})
      EXPECT_NE(run_cli(std::string(cmd) + " --help").out.find(opt), std::string::npos) << cmd << " " << opt;
  EXPECT_NE(run_cli("generate --help").out.find("[default: f16]"), std::string::npos);
  EXPECT_NE(run_cli("logits --help").out.find("[default: f32]"), std::string::npos);
  // info's estimate follows the type.
  const double f16 = info_kv_bytes(run_cli("info --model " + e2b + " --ctx 4096").out, "f16");
  const double f32 = info_kv_bytes(run_cli("info --model " + e2b + " --ctx 4096 --kv-type f32").out, "f32");
  EXPECT_GT(f16, 0);
  EXPECT_NEAR(f32, 2 * f16, 0.01 * f32);
}

// --load read|map give the same tokens; an unknown mode is a clear error naming the option.
TEST(EngineCliMisc, LoadOption) {
  const std::string e2b = test::fixture("g4-e2b");
  CliResult bad = run_cli("generate --model " + e2b + " --ids 2,3 --max-tokens 1 --load mmap");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("--load: unknown load mode 'mmap' (expected one of: auto, map, read)"), std::string::npos)
      << bad.out;
  CliResult read = run_cli("generate --model " + e2b + " --ids 2,3,4 --max-tokens 6 --kv-type f32 --greedy --json --load read");
  CliResult map = run_cli("generate --model " + e2b + " --ids 2,3,4 --max-tokens 6 --kv-type f32 --greedy --json --load map");
  EXPECT_EQ(read.status, 0) << read.out;
  EXPECT_EQ(map.status, 0) << map.out;
  // Same greedy tokens (the first line holds timings).
  EXPECT_EQ(read.out.substr(read.out.find('{')), map.out.substr(map.out.find('{')));
}

}  // namespace
}  // namespace g4

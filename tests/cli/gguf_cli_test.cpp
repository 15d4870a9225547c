// The GGUF tools as a user calls them: convert, quantize, synth, bench, and loading their files with
// logits/info; clear errors for bad flags.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/json.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "cli/cli_test_util.h"
#include "test_util.h"

using g4::test::CliResult;
using g4::test::run_cli;

namespace g4 {
namespace {

using test::TempDir;


TEST(GgufCli, ConvertThenLogitsMatchTheReference) {
  TempDir tmp("gguf-cli");
  const std::string dir = test::fixture("g4-26b-a4b");
  const std::string gguf = tmp.file("m.gguf");
  CliResult r = run_cli("convert --model " + dir + " --out " + gguf + " --type f32");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + gguf), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("convert ["), std::string::npos) << "progress bar expected on stderr: " << r.out;
  const std::string out = tmp.file("logits.safetensors");
  r = run_cli("logits --model " + gguf + " --ids " + test::fixture_ids_csv(dir) + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  auto got = SafetensorsFile::open(out);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  EXPECT_LE(test::rel_error(tensor_to_f32(*got->find("logits")), tensor_to_f32(*ref->find("logits"))), 1e-4);
  r = run_cli("info --model " + gguf);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("experts:        16, top-4, width 24"), std::string::npos) << r.out;
}

TEST(GgufCli, QuantizeReportsFallbacksAndTheFileLoads) {
  TempDir tmp("gguf-cli");
  const std::string f32 = tmp.file("f32.gguf"), q = tmp.file("q4_k.gguf");
  ASSERT_EQ(run_cli("convert --quiet --model " + test::fixture("g4-31b") + " --out " + f32 + " --type f32").status, 0);
  CliResult r = run_cli("quantize --model " + f32 + " --type q4_k --out " + q);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("fell back"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_K -> Q8_0 (ne0 96)"), std::string::npos) << r.out;
  auto f = GgufFile::open(q);
  EXPECT_EQ(f->get_u32("general.file_type"), 14u);
  EXPECT_EQ(f->find_tensor("blk.0.attn_norm.weight")->ggml_type, 0u);
  r = run_cli("info --model " + q);
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST(GgufCli, SynthThenBenchPrintsJsonLast) {
  TempDir tmp("gguf-cli");
  const std::string g = tmp.file("synth.gguf");
  CliResult r = run_cli("synth --config " + test::fixture("g4-e2b") + "/config.json --type q8_0 --out " + g);
  ASSERT_EQ(r.status, 0) << r.out;
  r = run_cli("bench --model " + g + " --pp 8 --tg 4 --reps 2 --warmup 0 --threads 2 --json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.out;
  std::string last = r.out.substr(0, r.out.find_last_not_of('\n') + 1);
  last = last.substr(last.find_last_of('\n') + 1);
  Json j = parse_json(last, "bench output");
  EXPECT_GT(j["pp_tps"].get<double>(), 0.0);
  EXPECT_GT(j["tg_tps"].get<double>(), 0.0);
  EXPECT_EQ(j["pp_samples"].size(), 2u);
}

TEST(GgufCli, ClearErrors) {
  TempDir tmp("gguf-cli");
  CliResult r = run_cli("convert --model " + test::fixture("g4-31b") + " --out " + tmp.file("x.gguf") + " --type iq2_xxs");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("'iq2_xxs' needs an importance matrix"), std::string::npos) << r.out;  // read, not written
  r = run_cli("synth --arch 7b --out " + tmp.file("x.gguf"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("unknown --arch '7b'"), std::string::npos) << r.out;
  r = run_cli("synth --out " + tmp.file("x.gguf"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("exactly one of --arch"), std::string::npos) << r.out;
  r = run_cli("convert --model /nonexistent --out " + tmp.file("x.gguf"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("model path '/nonexistent' does not exist"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("x.gguf")));
}

}  // namespace
}  // namespace g4

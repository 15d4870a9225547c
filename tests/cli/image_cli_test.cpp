// Images through the CLI as a user calls it: `logits --image` on a Hugging Face folder and on a GGUF with
// its projector (`convert --mmproj-out`, `--mmproj`), against the fixture's reference logits; clear
// errors for files that cannot be used.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "cli/cli_test_util.h"
#include "test_util.h"

using g4::test::CliResult;
using g4::test::run_cli;

namespace g4 {
namespace {

using test::TempDir;


double logits_error(const std::string& out, const std::string& dir) {
  auto got = SafetensorsFile::open(out);
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  return test::rel_error(tensor_to_f32(*got->find("logits")), tensor_to_f32(*ref->find("logits")));
}

// The reference file holds pixel_values and image_position_ids: the processor's output for its image.
TEST(MediaCli, LogitsWithAnImageMatchTheReference) {
  TempDir tmp("media-cli");
  const std::string dir = test::fixture("g4-26b-a4b-mm");
  const std::string out = tmp.file("logits.safetensors");
  CliResult r = run_cli("logits --model " + dir + " --ids " + test::fixture_ids_csv(dir) + " --image " + dir + "/reference.safetensors --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_LE(logits_error(out, dir), 1e-4);
}

TEST(MediaCli, ConvertWritesTheProjectorAndGgufLogitsMatch) {
  TempDir tmp("media-cli");
  const std::string dir = test::fixture("g4-26b-a4b-mm");
  const std::string gguf = tmp.file("m.gguf"), mmproj = tmp.file("mmproj.gguf");
  CliResult r = run_cli("convert --quiet --model " + dir + " --out " + gguf + " --mmproj-out " + mmproj);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("wrote " + mmproj), std::string::npos) << r.out;
  EXPECT_EQ(GgufFile::open(mmproj)->get_string("general.architecture"), "clip");
  const std::string out = tmp.file("logits.safetensors");
  r = run_cli("logits --model " + gguf + " --mmproj " + mmproj + " --ids " + test::fixture_ids_csv(dir) + " --image " + dir +
              "/reference.safetensors --out " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_LE(logits_error(out, dir), 1e-4);
  // Without --mmproj-out the towers are left out, and convert says so.
  r = run_cli("convert --quiet --model " + dir + " --out " + tmp.file("n.gguf"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("has media towers"), std::string::npos) << r.out;
  // A text GGUF is not a projector.
  r = run_cli("logits --model " + gguf + " --mmproj " + gguf + " --ids 2,3 --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("not a multimodal projector"), std::string::npos) << r.out;
}

TEST(MediaCli, UnusableImagesAreClearErrors) {
  TempDir tmp("media-cli");
  const std::string dir = test::fixture("g4-26b-a4b-mm");
  const std::string ids = test::fixture_ids_csv(dir), out = tmp.file("o.safetensors");
  CliResult r = run_cli("logits --model " + dir + " --ids " + ids + " --image " + tmp.file("missing.png") + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no such file"), std::string::npos) << r.out;
  r = run_cli("logits --model " + dir + " --ids " + ids + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("placeholders"), std::string::npos) << r.out;
  r = run_cli("logits --model " + dir + " --ids " + ids + " --image " + dir + "/reference.safetensors --image-tokens 280 --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("70 soft tokens"), std::string::npos) << r.out;
  r = run_cli("logits --model " + dir + " --ids " + ids + " --image " + dir + "/reference.safetensors --image-tokens 99 --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("70, 140, 280, 560 or 1120"), std::string::npos) << r.out;
  r = run_cli("logits --model " + dir + " --ids " + ids + " --audio " + dir + "/reference.safetensors --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("has no audio tower"), std::string::npos) << r.out;
  r = run_cli("logits --model " + test::fixture("g4-e2b") + " --ids 2,3 --image " + dir + "/reference.safetensors --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no media towers"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace g4

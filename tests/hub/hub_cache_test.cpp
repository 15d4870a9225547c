// The local Hugging Face cache: repo ids, llama.cpp's GGUF choice by quantization, what --model resolves to,
// and the hub listing's parser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "hub/hub_cache.h"
#include "hub/hub_download.h"
#include "hub/model_locator.h"

namespace g4::hub {
namespace {

namespace fs = std::filesystem;

TEST(HubCache, RepoIds) {
  EXPECT_TRUE(is_valid_repo_id("google/gemma-4-E2B-it"));
  EXPECT_TRUE(is_valid_repo_id("ggml-org/gemma-3-4b-it-qat-GGUF"));
  EXPECT_TRUE(is_valid_repo_id("a_b/c.d"));
  for (const char* bad : {"", "gemma", "a/b/c", "/a", "a/", "a//b", "-a/b", "a/b-", "a/../b", "a/b c", "a/b\\c", "../x"})
    EXPECT_FALSE(is_valid_repo_id(bad)) << bad;
  auto r = parse_repo_ref("ggml-org/x-GGUF:q4_k_m");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->repo, "ggml-org/x-GGUF");
  EXPECT_EQ(r->quant, "Q4_K_M");
  EXPECT_EQ(r->str(), "ggml-org/x-GGUF:Q4_K_M");
  EXPECT_FALSE(parse_repo_ref("org/name:"));
  EXPECT_FALSE(parse_repo_ref("org/name:Q4 K"));
  EXPECT_FALSE(parse_repo_ref("./model.gguf"));
}

TEST(HubCache, QuantTagsAsLlamaCppReadsThem) {
  EXPECT_EQ(gguf_quant_tag("gemma-4-E2B-it-Q4_K_M.gguf"), "Q4_K_M");
  EXPECT_EQ(gguf_quant_tag("sub/model.q8_0.GGUF"), "Q8_0");
  EXPECT_EQ(gguf_quant_tag("big-BF16-00001-of-00003.gguf"), "BF16");
  EXPECT_EQ(gguf_quant_tag("model.gguf"), "");
  EXPECT_EQ(gguf_quant_tag("model-Q8_0.bin"), "");
  EXPECT_FALSE(gguf_is_model_file("mmproj-gemma-4-f16.gguf"));
  EXPECT_FALSE(gguf_is_model_file("gemma.imatrix.gguf"));
  EXPECT_TRUE(gguf_is_model_file("Gemma-Q4_0.GGUF"));
}

TEST(HubCache, PickGgufFollowsLlamaCppsDefaults) {
  const std::vector<std::string> files = {"README.md", "g-IQ4_K_M.gguf", "g-Q4_K_M.gguf", "g-Q8_0.gguf", "g-f16.gguf",
                                          "mmproj-g-f16.gguf"};
  EXPECT_EQ(pick_gguf(files, ""), "g-Q4_K_M.gguf");  // the default, and the exact tag before IQ4_K_M
  EXPECT_EQ(pick_gguf(files, "q8_0"), "g-Q8_0.gguf");
  EXPECT_EQ(pick_gguf(files, "F16"), "g-f16.gguf");     // never the projector
  EXPECT_EQ(pick_gguf(files, "Q5_K_M"), "");
  EXPECT_EQ(pick_gguf({"a-Q6_K.gguf", "b-Q8_0.gguf"}, ""), "b-Q8_0.gguf");  // then Q8_0
  EXPECT_EQ(pick_gguf({"a-Q6_K.gguf", "mmproj.gguf"}, ""), "a-Q6_K.gguf");   // then the first model
  EXPECT_EQ(pick_gguf({"m-Q8_0-00002-of-00002.gguf", "m-Q8_0-00001-of-00002.gguf"}, "Q8_0"), "m-Q8_0-00001-of-00002.gguf");
  EXPECT_EQ(gguf_quants(files), (std::vector<std::string>{"IQ4_K_M", "Q4_K_M", "Q8_0", "F16"}));
}

class CacheDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/tmp/g4-hub-cache-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root_);
    fs::create_directories(root_);
    setenv("HF_HUB_CACHE", root_.c_str(), 1);
    unsetenv("HUGGINGFACE_HUB_CACHE");  // the older name, which comes before HF_HOME
  }
  void TearDown() override {
    unsetenv("HF_HUB_CACHE");
    fs::remove_all(root_);
  }
  // A repo in huggingface_hub's layout: blobs, snapshot symlinks, refs/main.
  std::string add_repo(const std::string& folder, const std::vector<std::pair<std::string, std::string>>& files) {
    const std::string commit = "0123456789abcdef0123456789abcdef01234567";
    const std::string repo = root_ + "/" + folder;
    fs::create_directories(repo + "/blobs");
    fs::create_directories(repo + "/snapshots/" + commit);
    fs::create_directories(repo + "/refs");
    std::ofstream(repo + "/refs/main") << commit;
    int i = 0;
    for (const auto& [name, content] : files) {
      const std::string blob = "blob" + std::to_string(i++);
      std::ofstream(repo + "/blobs/" + blob) << content;
      fs::create_symlink("../../blobs/" + blob, repo + "/snapshots/" + commit + "/" + name);
    }
    return repo + "/snapshots/" + commit;
  }
  std::string root_;
};

TEST_F(CacheDir, CacheRootFromTheEnvironment) {
  EXPECT_EQ(cache_dir(), root_);
  unsetenv("HF_HUB_CACHE");
  setenv("HF_HOME", "/x/hf", 1);
  EXPECT_EQ(cache_dir(), "/x/hf/hub");
  unsetenv("HF_HOME");
  EXPECT_EQ(repo_dir("org/name"), cache_dir() + "/models--org--name");
}

TEST_F(CacheDir, LocatesRepoIdsAndQuants) {
  const std::string snap = add_repo("models--org--m-GGUF", {{"m-Q4_K_M.gguf", "GGUF1"}, {"m-Q8_0.gguf", "GGUF2"}});
  LocatedModel m = locate_model("org/m-GGUF");
  EXPECT_EQ(m.kind, LocatedModel::Kind::Cached);
  EXPECT_EQ(m.path, snap + "/m-Q4_K_M.gguf");
  m = locate_model("org/m-GGUF:q8_0");
  EXPECT_EQ(m.path, snap + "/m-Q8_0.gguf");
  m = locate_model("org/m-GGUF:Q6_K");
  EXPECT_EQ(m.kind, LocatedModel::Kind::NotCached);
  EXPECT_NE(m.hint.find("cached: Q4_K_M, Q8_0"), std::string::npos) << m.hint;
  m = locate_model("org/other");
  EXPECT_EQ(m.kind, LocatedModel::Kind::NotCached);
  EXPECT_EQ(m.ref.repo, "org/other");

  const std::string ckpt = add_repo("models--google--g", {{"config.json", "{}"}, {"model.safetensors", "x"}});
  m = locate_model("google/g");
  EXPECT_EQ(m.kind, LocatedModel::Kind::Cached);
  EXPECT_EQ(m.path, ckpt);
  EXPECT_THROW(locate_model("not a model"), Error);
}

TEST_F(CacheDir, PathsAreTakenAsTheyAre) {
  const std::string dir = root_ + "/plain";
  fs::create_directories(dir);
  std::ofstream(dir + "/weights.bin") << "GGUF....";  // a GGUF by its magic, whatever its name
  EXPECT_EQ(locate_model(dir).path, dir + "/weights.bin");
  EXPECT_EQ(locate_model(dir + "/weights.bin").path, dir + "/weights.bin");
  EXPECT_TRUE(has_gguf_magic(dir + "/weights.bin"));
  std::ofstream(dir + "/config.json") << "{}";
  EXPECT_EQ(locate_model(dir + "/").path, dir);  // a checkpoint folder
}

TEST(HubListing, ParsesAndRefusesWhatIsUnsafe) {
  const std::string sha(64, 'a'), blob(40, 'b'), commit(40, 'c');
  RepoInfo info = parse_repo_info(R"({"sha":")" + commit + R"(","siblings":[{"rfilename":"config.json","size":10,"blobId":")" +
                                  blob + R"("},{"rfilename":"m-Q8_0.gguf","size":5,"blobId":")" + blob +
                                  R"(","lfs":{"sha256":")" + sha + R"(","size":5}}]})");
  EXPECT_EQ(info.commit, commit);
  ASSERT_EQ(info.files.size(), 2u);
  EXPECT_EQ(info.files[1].sha256, sha);
  EXPECT_EQ(info.files[0].blob_id, blob);
  EXPECT_THROW(parse_repo_info(R"({"sha":")" + commit + R"(","siblings":[{"rfilename":"../../etc/passwd"}]})"), Error);
  EXPECT_THROW(parse_repo_info(R"({"sha":")" + commit + R"(","siblings":[{"rfilename":"/abs"}]})"), Error);
  EXPECT_THROW(parse_repo_info(R"({"sha":"nothex","siblings":[]})"), Error);
  EXPECT_THROW(parse_repo_info(R"({"sha":")" + commit + R"(","siblings":[{"rfilename":"a","lfs":{"sha256":"zz"}}]})"), Error);
  EXPECT_THROW(parse_repo_info("[1,2"), Error);

  // A checkpoint without a quant: its json/safetensors/jinja; with one: that GGUF.
  RepoRef plain{"o/m", ""}, q8{"o/m", "Q8_0"};
  auto sel = select_files(info, plain);
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(sel[0].path, "config.json");
  sel = select_files(info, q8);
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(sel[0].path, "m-Q8_0.gguf");
  try {
    select_files(info, RepoRef{"o/m", "Q2_K"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("available: Q8_0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace g4::hub

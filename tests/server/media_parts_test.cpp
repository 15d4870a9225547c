// Media content parts against a model with a vision tower (the 26B fixture): where bytes may come from,
// the limits (400/413), and errors that name the field and the model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "server/media_parts.h"
#include "server/openai_api.h"
#include "test_util.h"

namespace g4::server {
namespace {

struct MediaPartsTest : ::testing::Test {
  static void SetUpTestSuite() { model_ = load_model(test::fixture("g4-26b-a4b-mm")).release(); }
  static void TearDownTestSuite() { delete model_; }
  static inline Model* model_ = nullptr;

  // The status and message of resolving one image_url part.
  std::pair<int, std::string> resolve(const std::string& url, const ServerMediaOptions& o, MediaKind kind = MediaKind::Image) {
    std::vector<MediaRef> refs;
    Json part = kind == MediaKind::Image ? Json{{"type", "image_url"}, {"image_url", {{"url", url}}}}
                                         : Json{{"type", "input_audio"}, {"input_audio", {{"data", url}, {"format", "wav"}}}};
    parse_media_part(part, "messages[0].content[0]", refs);
    try {
      resolve_media(*model_, refs, o);
      return {200, ""};
    } catch (const ApiError& e) {
      return {e.status, e.what()};
    }
  }
};

TEST_F(MediaPartsTest, SourcesAndLimits) {
  ServerMediaOptions o;
  auto [s1, m1] = resolve("https://example.com/cat.png", o);
  EXPECT_EQ(s1, 400);
  EXPECT_NE(m1.find("remote URLs are not fetched"), std::string::npos) << m1;
  auto [s2, m2] = resolve("file:///etc/passwd", o);
  EXPECT_EQ(s2, 400);
  EXPECT_NE(m2.find("--media-dir"), std::string::npos) << m2;
  const std::string dir = testing::TempDir() + "/media-" + std::to_string(getpid());
  std::filesystem::create_directories(dir + "/in");
  std::ofstream(dir + "/in/a.png") << "not really a png";
  std::ofstream(dir + "/out.png") << "x";
  o.media_dir = dir + "/in";
  auto [s3, m3] = resolve("file://" + dir + "/in/../out.png", o);
  EXPECT_EQ(s3, 400);
  EXPECT_NE(m3.find("outside the folder"), std::string::npos) << m3;
  auto [s4, m4] = resolve("file://" + dir + "/in/a.png", o);
  EXPECT_EQ(s4, 400) << "read, then refused by the decoder";
  EXPECT_NE(m4.find("cannot read"), std::string::npos) << m4;
  o.limits.max_bytes = 8;
  auto [s5, m5] = resolve("data:image/png;base64," + std::string(400, 'A'), o);
  EXPECT_EQ(s5, 413) << m5;
  auto [s6, m6] = resolve("file://" + dir + "/in/a.png", o);
  EXPECT_EQ(s6, 413) << m6;
  auto [s7, m7] = resolve("data:image/png;base64,@@@@", ServerMediaOptions{});
  EXPECT_EQ(s7, 400);
  EXPECT_NE(m7.find("invalid character"), std::string::npos) << m7;
  auto [s8, m8] = resolve("UklGRg==", ServerMediaOptions{}, MediaKind::Audio);
  EXPECT_EQ(s8, 400);
  EXPECT_NE(m8.find("has no audio tower"), std::string::npos) << m8;
  EXPECT_NE(m8.find("g4-26b-a4b-mm"), std::string::npos) << m8;
  std::filesystem::remove_all(dir);

  std::vector<MediaRef> many;
  for (int i = 0; i < 3; ++i)
    parse_media_part(Json{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AA=="}}}}, "m[" + std::to_string(i) + "]", many);
  ServerMediaOptions few;
  few.limits.max_items = 2;
  try {
    resolve_media(*model_, many, few);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, "m[2]");
  }
}

TEST(Base64, DecodesAndRefuses) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64_decode("AAEC"), std::string("\0\1\2", 3));
  EXPECT_THROW(base64_decode("aGV sbG8="), Error);
  EXPECT_THROW(base64_decode("aG=Vs"), Error);
}

}  // namespace
}  // namespace g4::server

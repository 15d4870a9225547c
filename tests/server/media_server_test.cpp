// Pictures and sound through a running `gemma4 serve`, driven by the official `openai` npm client
// and `@anthropic-ai/sdk` clients (tests/server/media_client.cjs): image_url parts (base64 data: URLs, several per message) and
// input_audio parts on the demo model with towers (`demo-model --media`: random weights, the real
// vocabulary and chat template). The fixtures prove the towers exact; this proves the path a real client
// takes: the prompt grows by exactly the soft tokens the processor gives each item (plus its begin and end
// markers), repeated images reuse the prefix cache, other pictures do not, and bad media get a 400.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "media/media.h"
#include "media/media_test_util.h"
#include "server_proc.h"
#include "test_util.h"

namespace {

namespace tm = g4::test::media;
const std::string kKey = "media-test-key";

void write_bytes(const std::string& path, const tm::Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

using g4::test::read_file;

// A w x h RGB picture whose pixels depend on `seed` (two seeds: same size, different content).
std::vector<uint8_t> picture(int w, int h, int seed) {
  std::vector<uint8_t> px(size_t(w) * size_t(h) * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) px[(size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c)] = uint8_t((x * (3 + seed) + y * (5 + c) + 40 * seed) & 255);
  return px;
}

class MediaServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/g4-media-server-XXXXXX";
    dir_ = mkdtemp(tmpl);
    model_ = dir_ + "/demo-mm";
    auto r = g4::test::run_cli("demo-model --media --out " + model_);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(server_.start({"--model", model_, "--port", "0", "--parallel", "2", "--ctx", "2048", "--api-key", kKey,
                               "--alias", "demo", "--image-tokens", "70"},
                              dir_ + "/server.log"))
        << read_file(dir_ + "/server.log");
  }
  static void TearDownTestSuite() {
    server_.stop();
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- server log (tail) ----\n" << server_.log_tail() << "\n";
  }

  static inline std::string dir_, model_;
  static inline g4::test::ServerProc server_;
};

TEST_F(MediaServerTest, OpenAIClientImagesAndAudio) {
  // The media files, and how many soft tokens the processor gives each (what the prompt must grow by).
  const g4::media::ProcessorConfig cfg = g4::media::load_processor_config(model_);
  struct Pic {
    std::string name;
    int w, h, seed;
  };
  std::vector<int> counts;
  for (const Pic& p : {Pic{"a.png", 64, 48, 1}, Pic{"b.png", 40, 96, 2}, Pic{"a2.png", 64, 48, 3}}) {
    const std::vector<uint8_t> px = picture(p.w, p.h, p.seed);
    write_bytes(dir_ + "/" + p.name, tm::encode_png(px.data(), p.w, p.h, 3));
    const g4::media::Image img = g4::media::read_image_file(dir_ + "/" + p.name);
    counts.push_back(g4::media::preprocess_image(img, cfg.image, 70).num_soft_tokens);
  }
  std::vector<float> tone(16000);
  for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.3f * float(std::sin(2 * M_PI * 440.0 * double(i) / 16000.0));
  write_bytes(dir_ + "/tone.wav", tm::encode_wav_f32(tone, 16000, 1));
  const int audio_tokens =
      g4::media::extract_audio_features(g4::media::read_audio_file(dir_ + "/tone.wav"), cfg.audio).num_soft_tokens;
  ASSERT_GT(counts[0], 0);
  ASSERT_NE(counts[0], counts[1]) << "pick pictures with different token counts";
  ASSERT_EQ(counts[0], counts[2]);
  ASSERT_GT(audio_tokens, 0);
  std::ofstream(dir_ + "/corrupt.png") << "\x89PNG\r\n\x1a\n but not really";

  const std::string args = "http://127.0.0.1:" + std::to_string(server_.port) + " " + kKey + " demo '" + dir_ + "' " +
                           std::to_string(counts[0]) + " " + std::to_string(counts[1]) + " " + std::to_string(audio_tokens);
  g4::test::run_node_client("media_client.cjs", "@anthropic-ai/sdk", args);
}

}  // namespace

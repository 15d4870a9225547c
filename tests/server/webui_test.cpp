// The chat page of `gemma4 serve` in headless Chromium: tests/server/webui/webui_check.cjs starts the
// server on the demo model (random weights, real vocabulary and chat template) and drives Debian's
// chromium with puppeteer-core (pinned in tests/server/webui/package.json and its lock file). Screenshots
// of each state go to $G4_WEBUI_SCREENSHOTS (default: webui-screenshots/ beside the binary).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "media/media_test_util.h"

#include "test_util.h"

namespace {

TEST(WebUi, ChatPageInHeadlessChromium) {
  ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0) << "node is not installed (scripts/install-deps.sh installs it)";
  const char* chromium = std::getenv("CHROMIUM");
  const std::string browser = chromium ? chromium : "/usr/bin/chromium";
  ASSERT_EQ(access(browser.c_str(), X_OK), 0) << browser << " is missing (scripts/install-deps.sh installs Debian's chromium)";
  const std::string src = std::string(G4_SOURCE_DIR) + "/tests/server/webui";
  struct stat st {};
  if (stat((src + "/node_modules/puppeteer-core/package.json").c_str(), &st) != 0) {
    // scripts/install-deps.sh normally does this.
    ASSERT_EQ(std::system(("cd '" + src + "' && npm ci --no-audit --no-fund --loglevel=error >&2").c_str()), 0) << "npm ci failed";
  }
  const std::string dir = "/tmp/g4-webui-" + std::to_string(getpid());
  const std::string model = dir + "/demo";  // the served model's name is its folder's: "demo"
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << dir;
  auto made = g4::test::run_cli("demo-model --out " + model);
  ASSERT_EQ(made.status, 0) << made.out;
  // A model with towers, a picture and a sound clip for the attachment buttons.
  const std::string media_model = dir + "/demo-mm", png = dir + "/picture.png", wav = dir + "/tone.wav";
  made = g4::test::run_cli("demo-model --media --out " + media_model);
  ASSERT_EQ(made.status, 0) << made.out;
  {
    std::vector<uint8_t> px(64 * 48 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 7) & 255);
    const auto bytes = g4::test::media::encode_png(px.data(), 64, 48, 3);
    std::ofstream(png, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    std::vector<float> tone(16000);
    for (size_t i = 0; i < tone.size(); ++i) tone[i] = 0.3f * float(std::sin(2 * M_PI * 440.0 * double(i) / 16000.0));
    const auto clip = g4::test::media::encode_wav_f32(tone, 16000, 1);
    std::ofstream(wav, std::ios::binary).write(reinterpret_cast<const char*>(clip.data()), std::streamsize(clip.size()));
  }
  std::string shots = std::string(G4_BINARY);
  shots = shots.substr(0, shots.rfind('/')) + "/webui-screenshots";
  if (const char* s = std::getenv("G4_WEBUI_SCREENSHOTS")) shots = s;

  const std::string cmd = "node '" + src + "/webui_check.cjs' '" + G4_BINARY + "' '" + model + "' '" + shots + "' '" + media_model + "' '" + png + "' '" + wav + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  std::cout << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find(" passed, 0 failed"), std::string::npos) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace

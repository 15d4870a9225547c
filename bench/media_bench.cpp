// media_bench: seconds to turn media files into model inputs (decode + Gemma 4 processor), single-threaded, in
// thread CPU seconds.
//
//   build/media_bench [--reps 5]
//
// Image: a 1920x1080 photo-like picture (gradients + noise) as a quality-90 JPEG -> decode_image ->
// preprocess_image at 280 and 1120 soft tokens. Audio: 10 s of 44.1 kHz stereo as 16-bit WAV and as MP3 ->
// decode_audio (downmix + soxr to 16 kHz) -> extract_audio_features. Prints the median of --reps runs
// (CPU time: the figures hold on a busy machine).
// Not a test: it prints figures.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../tests/media/media_test_util.h"
#include "media/media.h"

namespace {

// Median thread CPU seconds of `reps` runs: the build machine is shared, and CPU time (everything here is
// single-threaded) is what the work costs, independent of what else runs.
double median_seconds(int reps, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    fn();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    t.push_back(double(b.tv_sec - a.tv_sec) + 1e-9 * double(b.tv_nsec - a.tv_nsec));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--reps")) reps = std::max(1, std::atoi(argv[i + 1]));
  namespace tm = g4::test::media;
  using namespace g4::media;

  const int W = 1920, H = 1080;
  std::vector<uint8_t> rgb(size_t(W) * H * 3);
  std::mt19937 rng(1);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(size_t(y) * W + x) * 3 + c] =
            uint8_t(std::clamp((x * (c + 1) + y * (3 - c)) % 256 + int(rng() % 17) - 8, 0, 255));
  tm::Bytes jpeg = tm::encode_jpeg(rgb.data(), W, H, 90);
  ImageProcessorConfig icfg;
  double t_decode = median_seconds(reps, [&] { decode_image(jpeg); });
  Image img = decode_image(jpeg);
  for (int budget : {280, 1120}) {
    double t_pre = median_seconds(reps, [&] { preprocess_image(img, icfg, budget); });
    double t_all = median_seconds(reps, [&] { preprocess_image(decode_image(jpeg), icfg, budget); });
    ImageFeatures f = preprocess_image(img, icfg, budget);
    std::printf("image 1920x1080 JPEG (%zu KB) -> %dx%d, %d soft tokens: decode %.4f s + processor %.4f s = %.4f s\n",
                jpeg.size() / 1024, f.resized_width, f.resized_height, f.num_soft_tokens, t_decode, t_pre, t_all);
  }

  const int rate = 44100;
  std::vector<float> st(size_t(rate) * 10 * 2);
  for (size_t i = 0; i < st.size() / 2; ++i) {
    double t = double(i) / rate;
    st[2 * i] = float(0.3 * std::sin(2 * M_PI * 440 * t) + 0.05 * (int(rng() % 2001) - 1000) / 1000.0);
    st[2 * i + 1] = float(0.3 * std::sin(2 * M_PI * 660 * t));
  }
  AudioFeatureConfig acfg;
  struct Clip { const char* name; tm::Bytes bytes; };
  std::vector<Clip> clips = {{"WAV 16-bit", tm::encode_sndfile(st, rate, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16)},
                             {"MP3", tm::encode_sndfile(st, rate, 2, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)}};
  for (const Clip& c : clips) {
    double t_dec = median_seconds(reps, [&] { decode_audio(c.bytes); });
    Audio a = decode_audio(c.bytes);
    double t_feat = median_seconds(reps, [&] { extract_audio_features(a, acfg); });
    AudioFeatures f = extract_audio_features(a, acfg);
    std::printf("audio 10 s 44.1 kHz stereo %s (%zu KB) -> %d frames, %d soft tokens: decode+resample %.4f s + "
                "features %.4f s = %.4f s\n", c.name, c.bytes.size() / 1024, f.frames, f.num_soft_tokens, t_dec,
                t_feat, t_dec + t_feat);
  }
  return 0;
}

// Gemma4AudioFeatureExtractor (transformers 5.17, feature_extraction_gemma4.py), computed in double where the
// reference computes in float64 (FFT magnitudes, mel product, log) and rounded to float32 where it rounds
// (the windowed frames, the output).
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "core/error.h"
#include "media/media.h"

namespace g4::media {

namespace {

// transformers.audio_utils.mel_filter_bank(norm=None, mel_scale="htk"): [n_freq][n_mels], float64.
std::vector<double> mel_filter_bank(int n_freq, int n_mels, double fmin, double fmax, int sampling_rate) {
  auto hz_to_mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  auto mel_to_hz = [](double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); };
  // np.linspace: start + i * step, the last point exactly `stop`.
  auto linspace = [](double start, double stop, int num) {
    std::vector<double> v(static_cast<size_t>(num));
    const double step = num > 1 ? (stop - start) / double(num - 1) : 0.0;
    for (int i = 0; i < num; ++i) v[size_t(i)] = start + double(i) * step;
    if (num > 1) v[size_t(num - 1)] = stop;
    return v;
  };
  std::vector<double> mels = linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2);
  std::vector<double> filter_freqs(mels.size());
  for (size_t i = 0; i < mels.size(); ++i) filter_freqs[i] = mel_to_hz(mels[i]);
  std::vector<double> fft_freqs = linspace(0.0, double(sampling_rate / 2), n_freq);
  std::vector<double> fb(size_t(n_freq) * size_t(n_mels));
  for (int f = 0; f < n_freq; ++f) {
    for (int m = 0; m < n_mels; ++m) {
      const double down = -(filter_freqs[size_t(m)] - fft_freqs[size_t(f)]) /
                          (filter_freqs[size_t(m) + 1] - filter_freqs[size_t(m)]);
      const double up = (filter_freqs[size_t(m) + 2] - fft_freqs[size_t(f)]) /
                        (filter_freqs[size_t(m) + 2] - filter_freqs[size_t(m) + 1]);
      fb[size_t(f) * n_mels + size_t(m)] = std::max(0.0, std::min(down, up));
    }
  }
  return fb;
}

// FFTW's planner is not thread-safe; plans are made under this lock, executions need none.
std::mutex g_fftw_planner;

struct FftBuffers {
  double* in = nullptr;
  fftw_complex* out = nullptr;
  fftw_plan plan = nullptr;
  explicit FftBuffers(int n) {
    in = static_cast<double*>(fftw_malloc(sizeof(double) * size_t(n)));
    out = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * size_t(n / 2 + 1)));
    check(in && out, "audio features: out of memory");
    std::lock_guard<std::mutex> lock(g_fftw_planner);
    plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
    check(plan != nullptr, "audio features: cannot plan the FFT");
  }
  ~FftBuffers() {
    if (plan) {
      std::lock_guard<std::mutex> lock(g_fftw_planner);
      fftw_destroy_plan(plan);
    }
    fftw_free(in);
    fftw_free(out);
  }
  FftBuffers(const FftBuffers&) = delete;
  FftBuffers& operator=(const FftBuffers&) = delete;
};

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Each triangular filter is non-zero over a short run of FFT bins; skipping the zeros leaves every sum
// bit-identical (adding +0.0 changes nothing) and makes the mel product ~10x cheaper.
void nonzero_ranges(const std::vector<double>& fb, int n_freq, int n_mels, std::vector<int>& begin,
                    std::vector<int>& end) {
  begin.assign(size_t(n_mels), 0);
  end.assign(size_t(n_mels), 0);
  for (int m = 0; m < n_mels; ++m) {
    int b = n_freq, e = 0;
    for (int f = 0; f < n_freq; ++f) {
      if (fb[size_t(f) * n_mels + size_t(m)] != 0.0) b = std::min(b, f), e = f + 1;
    }
    begin[size_t(m)] = std::min(b, e), end[size_t(m)] = e;
  }
}

// Soft tokens of a clip: its frame mask through the tower's two stride-2 convolutions (kernel 3, padding 1),
// counted as Gemma4Processor.replace_audio_token counts them.
int audio_soft_tokens(std::vector<uint8_t> m) {
  for (int pass = 0; pass < 2; ++pass) {
    const int64_t t_out = floor_div(int64_t(m.size()) + 2 - 3, 2) + 1;
    std::vector<uint8_t> next;
    for (size_t i = 0; i < m.size() && int64_t(next.size()) < t_out; i += 2) next.push_back(m[i]);
    m.swap(next);
  }
  int n = 0;
  for (uint8_t v : m) n += v;
  return n;
}

}  // namespace

AudioFeatures extract_audio_features(const Audio& audio, const AudioFeatureConfig& cfg) {
  check(audio.sample_rate == cfg.sampling_rate,
        "audio features: the audio is at " + std::to_string(audio.sample_rate) + " Hz, the model takes " +
            std::to_string(cfg.sampling_rate) + " Hz");
  const int64_t n = int64_t(audio.samples.size());
  check(n > 0, "audio features: no samples");
  check(n <= cfg.max_length, "audio features: " + std::to_string(n) + " samples (" +
                                 std::to_string(double(n) / cfg.sampling_rate) + " s) is longer than the " +
                                 std::to_string(cfg.max_length) + " samples a clip may hold; split the audio");
  const int frame_length = int(std::lround(cfg.sampling_rate * cfg.frame_length_ms / 1000.0));
  const int hop = int(std::lround(cfg.sampling_rate * cfg.hop_length_ms / 1000.0));
  check(frame_length >= 2 && hop >= 1, "audio features: invalid frame or hop length");
  int fft_length = 1;
  while (fft_length < frame_length) fft_length *= 2;
  if (cfg.fft_overdrive) fft_length *= 2;
  const int n_freq = fft_length / 2 + 1, n_mels = cfg.feature_size;
  check(n_mels >= 1 && n_mels <= 4096, "audio features: invalid feature_size");
  check(cfg.per_bin_mean.empty() || int(cfg.per_bin_mean.size()) == n_mels, "audio features: per_bin_mean size");
  check(cfg.per_bin_stddev.empty() || int(cfg.per_bin_stddev.size()) == n_mels, "audio features: per_bin_stddev size");

  // Padding to a multiple of pad_to_multiple_of (attention mask 0 there), then frame_length/2 zeros on the left.
  const int64_t mult = std::max(1, cfg.pad_to_multiple_of);
  const int64_t padded = (n + mult - 1) / mult * mult;
  const int64_t pad_left = frame_length / 2;
  const int64_t total = pad_left + padded;
  std::vector<float> wave(size_t(total), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float v = audio.samples[size_t(i)];
    if (cfg.input_scale_factor != 1.0) v = float(double(v) * cfg.input_scale_factor);
    wave[size_t(pad_left + i)] = v;
  }
  const int64_t frame_size = frame_length + 1;  // one extra sample for the HTK preemphasis
  const int64_t frames = floor_div(total - frame_size, hop) + 1;
  check(frames > 0, "audio features: the clip is too short (" + std::to_string(n) + " samples)");

  // np.hanning(frame_length + 1)[:-1] as float32 (the periodic Hann window).
  std::vector<float> window(static_cast<size_t>(frame_length));
  for (int k = 0; k < frame_length; ++k) {
    const double m = double(frame_length);  // M - 1 of np.hanning(M = frame_length + 1)
    window[size_t(k)] = float(0.5 + 0.5 * std::cos(M_PI * double(2 * k - frame_length) / m));
  }
  const std::vector<double> fb = mel_filter_bank(n_freq, n_mels, cfg.min_frequency, cfg.max_frequency,
                                                 cfg.sampling_rate);
  AudioFeatures out;
  out.frames = int(frames);
  out.mel_bins = n_mels;
  out.input_features.assign(size_t(frames) * size_t(n_mels), 0.0f);
  out.mask.assign(size_t(frames), 0);
  std::vector<int> f_begin, f_end;
  nonzero_ranges(fb, n_freq, n_mels, f_begin, f_end);
  FftBuffers fft(fft_length);
  std::vector<double> mag(static_cast<size_t>(n_freq));
  const float pre = float(cfg.preemphasis);
  for (int64_t t = 0; t < frames; ++t) {
    const float* x = &wave[size_t(t * hop)];
    for (int k = 0; k < fft_length; ++k) fft.in[k] = 0.0;
    for (int k = 0; k < frame_length; ++k) {
      float v;
      if (cfg.preemphasis > 0.0) {
        v = cfg.preemphasis_htk_flavor ? (k == 0 ? x[0] * (1.0f - pre) : x[k] - pre * x[k - 1])
                                       : x[k + 1] - pre * x[k];
      } else {
        v = x[k];
      }
      fft.in[k] = double(v * window[size_t(k)]);  // float32 product, as numpy multiplies two float32 arrays
    }
    fftw_execute(fft.plan);
    for (int f = 0; f < n_freq; ++f) mag[size_t(f)] = std::hypot(fft.out[f][0], fft.out[f][1]);
    // A frame is valid when its last sample (index t*hop + frame_size - 1 of the left-padded signal) is real audio.
    const int64_t end = t * hop + frame_size - 1 - pad_left;
    const bool valid = end >= 0 && end < n;
    out.mask[size_t(t)] = valid ? 1 : 0;
    if (!valid) continue;  // masked frames are multiplied by 0 in the reference
    float* o = &out.input_features[size_t(t) * size_t(n_mels)];
    for (int m = 0; m < n_mels; ++m) {
      double s = 0.0;
      for (int f = f_begin[size_t(m)]; f < f_end[size_t(m)]; ++f)
        s += mag[size_t(f)] * fb[size_t(f) * n_mels + size_t(m)];
      double v = std::log(s + cfg.mel_floor);
      if (!cfg.per_bin_mean.empty()) v -= cfg.per_bin_mean[size_t(m)];
      if (!cfg.per_bin_stddev.empty()) v /= cfg.per_bin_stddev[size_t(m)];
      o[m] = float(v);
    }
  }
  out.num_soft_tokens = audio_soft_tokens(out.mask);
  check(out.num_soft_tokens <= cfg.audio_seq_length,
        "audio features: " + std::to_string(out.num_soft_tokens) + " soft tokens is over the model's " +
            std::to_string(cfg.audio_seq_length) + " per clip");
  return out;
}

}  // namespace g4::media

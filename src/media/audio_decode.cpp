// Audio decoding: libsndfile from memory (WAV, FLAC, OGG/Vorbis, MP3 via libmpg123 in Debian 12's 1.2.0, ...),
// downmix to mono (mean of the channels, like librosa.to_mono), resampling with libsoxr (high quality).
// The duration limit is enforced while reading, so a compressed stream that claims or expands to hours of
// audio stops at the limit instead of filling memory.
#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "media/image_decode_internal.h"
#include "media/media.h"

namespace g4::media {

namespace {

struct MemSource {
  std::span<const uint8_t> bytes;
  sf_count_t pos = 0;
};

sf_count_t mem_length(void* u) { return sf_count_t(static_cast<MemSource*>(u)->bytes.size()); }
sf_count_t mem_seek(sf_count_t offset, int whence, void* u) {
  auto* m = static_cast<MemSource*>(u);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : sf_count_t(m->bytes.size());
  sf_count_t to = base + offset;
  if (to < 0 || to > sf_count_t(m->bytes.size())) return -1;
  m->pos = to;
  return m->pos;
}
sf_count_t mem_read(void* out, sf_count_t n, void* u) {
  auto* m = static_cast<MemSource*>(u);
  sf_count_t left = sf_count_t(m->bytes.size()) - m->pos;
  sf_count_t take = std::max<sf_count_t>(0, std::min(n, left));
  if (take > 0) std::memcpy(out, m->bytes.data() + m->pos, size_t(take));
  m->pos += take;
  return take;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* u) { return static_cast<MemSource*>(u)->pos; }

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};

std::vector<float> resample(const std::vector<float>& in, int from, int to) {
  if (from == to || in.empty()) return in;
  const double ratio = double(to) / double(from);
  std::vector<float> out(size_t(std::ceil(double(in.size()) * ratio)) + 16);
  size_t done = 0;
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_error_t err = soxr_oneshot(double(from), double(to), 1, in.data(), in.size(), nullptr, out.data(), out.size(),
                                  &done, &io, &q, nullptr);
  check(err == nullptr, std::string("audio: resampling failed: ") + (err ? err : ""));
  out.resize(done);
  return out;
}

}  // namespace

Audio decode_audio(std::span<const uint8_t> bytes, const AudioDecodeLimits& limits, int target_rate) {
  check(!bytes.empty(), "audio: the data is empty");
  check(bytes.size() <= limits.max_bytes, "audio: " + std::to_string(bytes.size()) +
                                              " bytes is over the limit of " + std::to_string(limits.max_bytes) +
                                              " bytes");
  check(target_rate > 0, "audio: invalid target sample rate");
  MemSource src{bytes, 0};
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info;
  std::memset(&info, 0, sizeof(info));
  std::unique_ptr<SNDFILE, SndCloser> f(sf_open_virtual(&io, SFM_READ, &info, &src));
  if (!f) {
    throw Error(std::string("audio: not a readable WAV, FLAC, OGG/Vorbis or MP3 stream (") + sf_strerror(nullptr) +
                ")");
  }
  check(info.channels >= 1 && info.channels <= limits.max_channels,
        "audio: " + std::to_string(info.channels) + " channels is not supported (at most " +
            std::to_string(limits.max_channels) + ")");
  check(info.samplerate >= 1000 && info.samplerate <= 768000,
        "audio: sample rate " + std::to_string(info.samplerate) + " Hz is out of range (1000..768000)");
  const double max_frames_d = limits.max_seconds * info.samplerate;
  const sf_count_t max_frames = sf_count_t(max_frames_d);
  auto too_long = [&](double seconds) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "audio: %.2f s is longer than the %.1f s a clip may last (split it)", seconds,
                  limits.max_seconds);
    return Error(buf);
  };
  // Headers of some formats state the length; that is checked first, then the frames actually read.
  if (info.frames > 0 && info.frames != SF_COUNT_MAX && info.frames > max_frames)
    throw too_long(double(info.frames) / info.samplerate);

  std::vector<float> mono;
  std::vector<float> block(size_t(4096) * size_t(info.channels));
  for (;;) {
    sf_count_t got = sf_readf_float(f.get(), block.data(), 4096);
    if (got <= 0) break;
    if (sf_count_t(mono.size()) + got > max_frames) throw too_long(double(mono.size() + size_t(got)) / info.samplerate);
    for (sf_count_t i = 0; i < got; ++i) {
      // Mean of the channels in double, so that the order of the channels does not change the rounding.
      double s = 0;
      for (int c = 0; c < info.channels; ++c) s += block[size_t(i) * size_t(info.channels) + size_t(c)];
      mono.push_back(float(s / info.channels));
    }
  }
  if (sf_error(f.get()) != SF_ERR_NO_ERROR)
    throw Error(std::string("audio: corrupt or truncated stream (") + sf_strerror(f.get()) + ")");
  check(!mono.empty(), "audio: the stream holds no samples");
  for (float v : mono) check(std::isfinite(v), "audio: the stream holds non-finite samples (NaN or infinity)");
  Audio a;
  a.sample_rate = target_rate;
  a.samples = resample(mono, info.samplerate, target_rate);
  return a;
}

Audio read_audio_file(const std::string& path, const AudioDecodeLimits& limits, int target_rate) {
  std::vector<uint8_t> data = detail::read_file_bounded(path, limits.max_bytes, "audio");
  try {
    return decode_audio(data, limits, target_rate);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace g4::media

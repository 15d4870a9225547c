// The Gemma 4 audio tower's forward pass (see audio_tower.h for the structure).
#include "model/audio_tower.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>

#include "core/error.h"
#include "core/thread_pool.h"
#include "model/ops.h"
#include "quant/vector_ops.h"

namespace g4 {

namespace {

ThreadPool& pool() { return ThreadPool::global(); }

// Runs fn(begin, end) over [0, n) shared among the pool's threads when `work` (about the element count)
// is worth a dispatch.
void parallel(int64_t n, int64_t work, const std::function<void(int64_t, int64_t)>& fn) {
  if (work < (int64_t(1) << 15) || n < 2) {
    fn(0, n);
    return;
  }
  pool().parallel_for(size_t(n), [&](size_t b, size_t e) { fn(int64_t(b), int64_t(e)); });
}

void clamp(float* x, int64_t n, float lo, float hi) {
  parallel(n, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = std::min(std::max(x[i], lo), hi);
  });
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void silu_all(std::vector<float>& v) {
  float* x = v.data();
  parallel(int64_t(v.size()), int64_t(v.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = silu(x[i]);
  });
}

// y = clamp(clamp(x, in) W^T, out): Gemma4ClippableLinear. `scratch` holds the clamped input.
void clipped_matmul(const ClippedLinear& l, const float* x, int64_t T, float* y, std::vector<float>& scratch) {
  const int64_t in = l.w.cols;
  const bool clip_in = std::isfinite(l.in_min) || std::isfinite(l.in_max);
  if (clip_in) {
    scratch.resize(size_t(T * in));
    float* out = scratch.data();
    parallel(T * in, T * in, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = std::min(std::max(x[i], l.in_min), l.in_max);
    });
    x = out;
  }
  matmul(l.w, x, size_t(T), y, pool());
  if (std::isfinite(l.out_min) || std::isfinite(l.out_max)) clamp(y, T * l.w.rows, l.out_min, l.out_max);
}

// LayerNorm over the last `n` values of each row, weight only (nn.LayerNorm(bias=False)), then ReLU.
void layer_norm_relu_rows(float* x, int64_t rows, int64_t n, const float* w, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += row[i];
    mean /= double(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= double(n);
    const float m = float(mean), inv = float(1.0 / std::sqrt(var + double(eps)));
    for (int64_t i = 0; i < n; ++i) row[i] = std::max(0.0f, (row[i] - m) * inv * w[i]);
  }
}

// The gradient-clipping clamp bound as transformers computes it: min(config value, the largest value of
// the weights' dtype); we compute in f32.
float clip_bound(const AudioConfig& c) { return std::min(c.gradient_clipping, FLT_MAX); }

}  // namespace

int64_t AudioTower::tokens_for_frames(int64_t frames) {
  const int64_t t1 = (frames + 1) / 2;
  return (t1 + 1) / 2;
}

AudioTower::AudioTower(AudioConfig config, std::shared_ptr<WeightSource> source, bool per_dim_scale_softplus)
    : config_(std::move(config)), source_(std::move(source)) {
  weights_ = bind_audio_weights(config_, *source_, per_dim_scale_softplus);
  // Gemma4AudioRelPositionalEncoding: positions context/2 down to 0, [sin | cos] of position * timescale,
  // in f32 as torch computes it.
  const int64_t H = config_.hidden_size, ctx = config_.context_size(), n_rel = ctx / 2 + 1, nt = H / 2;
  const double log_inc = std::log(10000.0) / double(std::max<int64_t>(nt - 1, 1));
  rel_pos_.assign(size_t(n_rel * H), 0.0f);
  for (int64_t c = 0; c < n_rel; ++c) {
    const float pos = float(ctx / 2 - c);
    for (int64_t i = 0; i < nt; ++i) {
      const float inv = std::exp(float(i) * float(-log_inc));
      const float t = pos * inv;
      rel_pos_[size_t(c * H + i)] = std::sin(t);
      rel_pos_[size_t(c * H + nt + i)] = std::cos(t);
    }
  }
}

namespace {

// Calls mat(weight) for every matrix and vec(n_values) for every f32 array the tower holds.
template <class M, class V>
void visit_tensors(const AudioWeights& w, M mat, V vec) {
  for (const std::vector<float>* v : {&w.conv0, &w.norm0, &w.conv1_packed, &w.norm1, &w.output_bias}) vec(v->size());
  for (const Weight* m : {&w.input_proj, &w.output_proj, &w.embed_proj}) mat(*m);
  for (const AudioLayerWeights& l : w.layers) {
    for (const ClippedLinear* c : {&l.ff1.up, &l.ff1.down, &l.ff2.up, &l.ff2.down, &l.q, &l.k, &l.v, &l.post, &l.conv_start, &l.conv_end})
      mat(c->w);
    mat(l.rel_k);
    for (const std::vector<float>* v : {&l.ff1.pre_norm, &l.ff1.post_norm, &l.ff2.pre_norm, &l.ff2.post_norm, &l.norm_pre_attn,
                                        &l.norm_post_attn, &l.norm_out, &l.dim_scale, &l.conv_pre_norm, &l.conv_norm, &l.depthwise})
      vec(v->size());
  }
}

}  // namespace

int64_t AudioTower::parameter_count() const {
  int64_t n = 0;
  visit_tensors(weights_, [&](const Weight& m) { n += m.rows * m.cols; }, [&](size_t k) { n += int64_t(k); });
  return n;
}

size_t AudioTower::weight_bytes() const {
  size_t n = 0;  // conv1_packed is a repacked copy of the stored kernel: counted once, as f32
  visit_tensors(weights_, [&](const Weight& m) { n += m.bytes(); }, [&](size_t k) { n += k * 4; });
  return n;
}

void AudioTower::subsample(const float* features, int64_t T0, const uint8_t* mask0, std::vector<float>& h,
                           std::vector<uint8_t>& mask2) const {
  const AudioConfig& c = config_;
  const AudioWeights& w = weights_;
  const int64_t F0 = c.n_mel, C0 = c.sub_channels0, C1 = c.sub_channels1, H = c.hidden_size;
  const int64_t T1 = (T0 + 1) / 2, F1 = (F0 + 1) / 2, T2 = (T1 + 1) / 2, F2 = (F1 + 1) / 2;
  const float eps = c.rms_norm_eps;
  auto valid0 = [&](int64_t t) { return mask0 == nullptr || mask0[t] != 0; };

  // Layer 0: one input channel, so a direct 3x3 convolution; output [T1][F1][C0] (channels innermost, the
  // layout LayerNorm over channels and the next layer's im2col want).
  std::vector<float> y1(size_t(T1 * F1 * C0));
  pool().parallel_for(size_t(T1), [&](size_t b, size_t e) {
    float patch[9];
    for (int64_t t = int64_t(b); t < int64_t(e); ++t) {
      for (int64_t f = 0; f < F1; ++f) {
        for (int64_t kt = 0; kt < 3; ++kt)
          for (int64_t kf = 0; kf < 3; ++kf) {
            const int64_t ti = 2 * t - 1 + kt, fi = 2 * f - 1 + kf;
            const bool in = ti >= 0 && ti < T0 && fi >= 0 && fi < F0 && valid0(ti);
            patch[kt * 3 + kf] = in ? features[ti * F0 + fi] : 0.0f;
          }
        float* out = y1.data() + (t * F1 + f) * C0;
        for (int64_t o = 0; o < C0; ++o) {
          const float* k = w.conv0.data() + o * 9;
          float s = 0;
          for (int i = 0; i < 9; ++i) s += k[i] * patch[i];
          out[o] = s;
        }
        layer_norm_relu_rows(out, 1, C0, w.norm0.data(), eps);
      }
    }
  });
  std::vector<uint8_t> mask1(static_cast<size_t>(T1));
  for (int64_t t = 0; t < T1; ++t) mask1[size_t(t)] = valid0(2 * t) ? 1 : 0;

  // Layer 1: im2col rows (3x3 neighbourhood x C0 channels) times the packed kernel, a few output frames at
  // a time so the im2col buffer stays small.
  std::vector<float> y2(size_t(T2 * F2 * C1));
  const int64_t K = 9 * C0, frames_per_pass = 16;
  std::vector<float> cols;
  for (int64_t t0 = 0; t0 < T2; t0 += frames_per_pass) {
    const int64_t nt = std::min(frames_per_pass, T2 - t0);
    cols.assign(size_t(nt * F2 * K), 0.0f);
    for (int64_t dt = 0; dt < nt; ++dt)
      for (int64_t f = 0; f < F2; ++f) {
        float* row = cols.data() + (dt * F2 + f) * K;
        for (int64_t kt = 0; kt < 3; ++kt)
          for (int64_t kf = 0; kf < 3; ++kf) {
            const int64_t ti = 2 * (t0 + dt) - 1 + kt, fi = 2 * f - 1 + kf;
            if (ti < 0 || ti >= T1 || fi < 0 || fi >= F1 || !mask1[size_t(ti)]) continue;
            std::copy_n(y1.data() + (ti * F1 + fi) * C0, C0, row + (kt * 3 + kf) * C0);
          }
      }
    matmul(w.conv1, cols.data(), size_t(nt * F2), y2.data() + t0 * F2 * C1, pool());
  }
  layer_norm_relu_rows(y2.data(), T2 * F2, C1, w.norm1.data(), eps);
  mask2.resize(size_t(T2));
  for (int64_t t = 0; t < T2; ++t) mask2[size_t(t)] = mask1[size_t(2 * t)];

  // [T2][F2][C1] is already the (freq, channel) flattening transformers makes before the projection.
  h.resize(size_t(T2 * H));
  matmul(w.input_proj, y2.data(), size_t(T2), h.data(), pool());
}

void AudioTower::feed_forward(const AudioFeedForward& ff, float* h, int64_t T) const {
  const AudioConfig& c = config_;
  const int64_t H = c.hidden_size;
  const float gc = clip_bound(c);
  std::vector<float> x(h, h + T * H), u(size_t(T * 4 * H)), d(size_t(T * H)), scratch;
  clamp(x.data(), T * H, -gc, gc);
  ops::rms_norm_rows(x.data(), ff.pre_norm.data(), T, H, c.rms_norm_eps);
  clipped_matmul(ff.up, x.data(), T, u.data(), scratch);
  silu_all(u);
  clipped_matmul(ff.down, u.data(), T, d.data(), scratch);
  clamp(d.data(), T * H, -gc, gc);
  ops::rms_norm_rows(d.data(), ff.post_norm.data(), T, H, c.rms_norm_eps);
  parallel(T * H, T * H, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) h[i] += d[size_t(i)] * c.residual_weight;
  });
}

void AudioTower::attention(const AudioLayerWeights& lw, const float* x, int64_t T, const std::vector<uint8_t>& mask,
                           AudioMaskMode mode, float* out) const {
  const AudioConfig& c = config_;
  const int64_t H = c.hidden_size, D = c.head_dim(), NH = c.n_heads, chunk = c.chunk_size;
  const int64_t past = c.context_left - 1, C = c.context_size(), n_rel = C / 2 + 1;
  const int64_t n_blocks = (T + chunk - 1) / chunk;
  std::vector<float> q(size_t(T * H)), k(size_t(T * H)), v(size_t(T * H)), ctx(size_t(T * H)), scratch;
  clipped_matmul(lw.q, x, T, q.data(), scratch);
  clipped_matmul(lw.k, x, T, k.data(), scratch);
  clipped_matmul(lw.v, x, T, v.data(), scratch);
  const float q_scale = float((1.0 / std::sqrt(double(D))) / std::log(2.0));
  const float k_scale = float(std::log(1.0 + std::exp(1.0)) / std::log(2.0));
  const std::vector<float>& dim_scale = lw.dim_scale;
  parallel(T, T * H, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t i = 0; i < H; ++i) {
        q[size_t(t * H + i)] = q[size_t(t * H + i)] * q_scale * dim_scale[size_t(i % D)];
        k[size_t(t * H + i)] *= k_scale;
      }
  });
  std::vector<float> rel(size_t(n_rel * H));
  matmul(lw.rel_k, rel_pos_.data(), size_t(n_rel), rel.data(), pool());

  const float cap = c.logit_cap;
  auto in_window = [&](int64_t qp, int64_t kp) {
    const int64_t dist = qp - kp;
    return (dist >= 0 && dist < past) || (dist < 0 && -dist < c.context_right);
  };
  pool().parallel_for(size_t(NH * n_blocks), [&](size_t b0, size_t b1) {
    std::vector<float> bd(size_t(chunk * n_rel)), logits(static_cast<size_t>(C));
    for (size_t job = b0; job < b1; ++job) {
      const int64_t head = int64_t(job) / n_blocks, blk = int64_t(job) % n_blocks, start = blk * chunk;
      // Query-by-relative-key products of the block's rows (padding rows past T are zero).
      for (int64_t i = 0; i < chunk; ++i)
        for (int64_t r = 0; r < n_rel; ++r)
          bd[size_t(i * n_rel + r)] =
              start + i < T ? kernels::vec_dot(q.data() + (start + i) * H + head * D, rel.data() + r * H + head * D, D) : 0.0f;
      for (int64_t i = 0; i < chunk && start + i < T; ++i) {
        const int64_t qp = start + i;
        const float* qv = q.data() + qp * H + head * D;
        for (int64_t j = 0; j < C; ++j) {
          const int64_t kp = start - past + j;
          const bool in_range = kp >= 0 && kp < T;
          // Transformer-XL's relative shift on the padded [chunk, C + 1] layout, exactly as transformers does it.
          const int64_t flat = i * C + j, r = flat / (C + 1), col = flat % (C + 1);
          const float pos = col < n_rel ? bd[size_t(r * n_rel + col)] : 0.0f;
          const float content = in_range ? kernels::vec_dot(qv, k.data() + kp * H + head * D, D) : 0.0f;
          const float logit = std::tanh((content + pos) / cap) * cap;
          const bool allowed = in_range && mask[size_t(kp)] && in_window(qp, kp);
          const bool keep = mode == AudioMaskMode::Intended ? allowed : (in_range && !allowed);
          logits[size_t(j)] = keep ? logit : c.invalid_logit;
        }
        kernels::vec_softmax(logits.data(), C);
        float* o = ctx.data() + qp * H + head * D;
        std::fill(o, o + D, 0.0f);
        for (int64_t j = 0; j < C; ++j) {
          const int64_t kp = start - past + j;
          if (kp >= 0 && kp < T) kernels::vec_axpy(logits[size_t(j)], v.data() + kp * H + head * D, o, D);
        }
      }
    }
  });
  clipped_matmul(lw.post, ctx.data(), T, out, scratch);
}

void AudioTower::light_conv(const AudioLayerWeights& lw, float* h, int64_t T) const {
  const AudioConfig& c = config_;
  const int64_t H = c.hidden_size, K = c.conv_kernel;
  const float gc = clip_bound(c);
  std::vector<float> x(size_t(T * H)), s(size_t(T * 2 * H)), g(size_t(T * H)), y(size_t(T * H)), e(size_t(T * H)), scratch;
  ops::rms_norm_rows(h, lw.conv_pre_norm.data(), T, H, c.rms_norm_eps, x.data());
  clipped_matmul(lw.conv_start, x.data(), T, s.data(), scratch);
  parallel(T, T * H, [&](int64_t t0, int64_t t1) {  // GLU: first half times the sigmoid of the second
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t i = 0; i < H; ++i) {
        const float b = s[size_t(t * 2 * H + H + i)];
        g[size_t(t * H + i)] = s[size_t(t * 2 * H + i)] * (1.0f / (1.0f + std::exp(-b)));
      }
  });
  // Causal depthwise convolution: K - 1 zeros of left padding.
  parallel(T, T * H * K, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t i = 0; i < H; ++i) {
        float acc = 0;
        for (int64_t j = 0; j < K; ++j) {
          const int64_t ti = t - (K - 1) + j;
          if (ti >= 0) acc += lw.depthwise[size_t(i * K + j)] * g[size_t(ti * H + i)];
        }
        y[size_t(t * H + i)] = acc;
      }
  });
  clamp(y.data(), T * H, -gc, gc);
  ops::rms_norm_rows(y.data(), lw.conv_norm.data(), T, H, c.rms_norm_eps);
  silu_all(y);
  clipped_matmul(lw.conv_end, y.data(), T, e.data(), scratch);
  ops::add(h, e.data(), T * H);
}

void AudioTower::layer(int i, std::vector<float>& h, int64_t T, const std::vector<uint8_t>& mask, AudioMaskMode mode) const {
  const AudioConfig& c = config_;
  const AudioLayerWeights& lw = weights_.layers[size_t(i)];
  const int64_t H = c.hidden_size;
  const float gc = clip_bound(c);
  feed_forward(lw.ff1, h.data(), T);
  std::vector<float> x(h), a(size_t(T * H));
  clamp(x.data(), T * H, -gc, gc);
  ops::rms_norm_rows(x.data(), lw.norm_pre_attn.data(), T, H, c.rms_norm_eps);
  attention(lw, x.data(), T, mask, mode, a.data());
  clamp(a.data(), T * H, -gc, gc);
  ops::rms_norm_rows(a.data(), lw.norm_post_attn.data(), T, H, c.rms_norm_eps);
  ops::add(h.data(), a.data(), T * H);
  light_conv(lw, h.data(), T);
  feed_forward(lw.ff2, h.data(), T);
  clamp(h.data(), T * H, -gc, gc);
  ops::rms_norm_rows(h.data(), lw.norm_out.data(), T, H, c.rms_norm_eps);
}

AudioSoftTokens AudioTower::encode(const float* features, int64_t frames, int64_t mel, const uint8_t* mask,
                                   AudioMaskMode mode) const {
  const AudioConfig& c = config_;
  if (frames < 1) throw Error("audio: no feature frames to encode");
  if (mel != c.n_mel)
    throw Error("audio: features have " + std::to_string(mel) + " mel bins per frame; this audio tower takes " + std::to_string(c.n_mel));
  std::vector<float> h;
  std::vector<uint8_t> m;
  subsample(features, frames, mask, h, m);
  const int64_t T = int64_t(m.size()), H = c.hidden_size, O = c.output_dims;
  for (int i = 0; i < c.n_layers; ++i) layer(i, h, T, m, mode);

  // Only the real rows go on: output_proj (+ bias), embed_audio's scale-free RMSNorm and projection.
  std::vector<float> real;
  int64_t n = 0;
  for (int64_t t = 0; t < T; ++t)
    if (m[size_t(t)]) {
      real.insert(real.end(), h.begin() + t * H, h.begin() + (t + 1) * H);
      ++n;
    }
  AudioSoftTokens out;
  out.n = n;
  out.dim = c.text_hidden_size;
  if (n == 0) return out;
  std::vector<float> o(size_t(n * O));
  matmul(weights_.output_proj, real.data(), size_t(n), o.data(), pool());
  for (int64_t t = 0; t < n; ++t) ops::add(o.data() + t * O, weights_.output_bias.data(), O);
  ops::rms_norm_rows(o.data(), nullptr, n, O, c.rms_norm_eps);
  out.data.resize(size_t(n * out.dim));
  matmul(weights_.embed_proj, o.data(), size_t(n), out.data.data(), pool());
  return out;
}

}  // namespace g4

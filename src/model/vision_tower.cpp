#include "model/vision_tower.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "formats/gguf.h"
#include "model/ops.h"
#include "quant/flash_attention.h"

namespace g4 {

namespace {

ThreadPool& pool() { return ThreadPool::global(); }

int json_int(const Json& j, const char* key, int fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback < 0) throw Error(where + ": missing field '" + key + "'");
    return fallback;
  }
  if (!j[key].is_number_integer() || j[key].get<long long>() < 0 || j[key].get<long long>() > (1ll << 30))
    throw Error(where + ": field '" + std::string(key) + "' must be a non-negative integer");
  return int(j[key].get<long long>());
}

bool json_bool(const Json& j, const char* key, bool fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(where + ": field '" + std::string(key) + "' must be true or false");
  return j[key].get<bool>();
}

void check_config(const VisionConfig& c, const std::string& where) {
  if (c.hidden <= 0 || c.intermediate <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.head_dim <= 0 || c.n_kv_heads <= 0 ||
      c.position_table <= 0 || c.patch_size <= 0 || c.pooling_kernel <= 0)
    throw Error(where + ": the vision tower's sizes must all be positive");
  // Sizes come from untrusted files: bound them so that no product of them (patch values, weight sizes, position
  // offsets) overflows before the weights' shapes are checked against them.
  if (c.hidden > (1 << 16) || c.intermediate > (1 << 18) || c.n_layers > 1024 || c.n_heads > 1024 || c.head_dim > 4096 ||
      c.position_table > (1 << 20) || c.patch_size > 64 || c.pooling_kernel > 64 || c.text_hidden > (1 << 16))
    throw Error(where + ": implausible vision tower sizes (hidden " + std::to_string(c.hidden) + ", intermediate " +
                std::to_string(c.intermediate) + ", layers " + std::to_string(c.n_layers) + ", heads " + std::to_string(c.n_heads) +
                ", head_dim " + std::to_string(c.head_dim) + ", patch " + std::to_string(c.patch_size) + ", pooling " +
                std::to_string(c.pooling_kernel) + ")");
  if (c.n_heads % c.n_kv_heads != 0) throw Error(where + ": vision num_attention_heads must be a multiple of num_key_value_heads");
  if (c.head_dim % 4 != 0) throw Error(where + ": vision head_dim must be a multiple of 4 (two rotated halves)");
  if (c.text_hidden <= 0) throw Error(where + ": unknown text hidden size for the vision projection");
}

// y = clamp(clamp(x) W^T) for a clipped linear (x is clamped in place: callers pass scratch copies).
void linear(const ClippedLinear& l, float* x, int64_t n, float* y, MatmulMath mm) {
  if (l.clip) {
    const int64_t m = n * l.w.cols;
    for (int64_t i = 0; i < m; ++i) x[i] = std::min(std::max(x[i], l.in_min), l.in_max);
  }
  matmul(l.w, x, size_t(n), y, pool(), mm);
  if (l.clip) {
    const int64_t m = n * l.w.rows;
    for (int64_t i = 0; i < m; ++i) y[i] = std::min(std::max(y[i], l.out_min), l.out_max);
  }
}

bool same_input_clamp(const ClippedLinear& a, const ClippedLinear& b) {
  return !a.clip && !b.clip;
}

// Rotates one head of `d` values by the 2-D position: channels [0, d/2) by x, [d/2, d) by y, each half
// as rotate_half (pairs j and j + d/4). cos/sin hold [x angles (d/4), y angles (d/4)] for this patch.
void rope_2d(float* v, int64_t d, const float* cos, const float* sin) {
  const int64_t half = d / 2, nf = half / 2;
  for (int axis = 0; axis < 2; ++axis) {
    float* p = v + axis * half;
    const float* c = cos + axis * nf;
    const float* s = sin + axis * nf;
    for (int64_t j = 0; j < nf; ++j) {
      const float a = p[j], b = p[j + nf];
      p[j] = a * c[j] - b * s[j];
      p[j + nf] = b * c[j] + a * s[j];
    }
  }
}

}  // namespace

VisionConfig vision_config_from_hf(const Json& v, int text_hidden, const std::string& where) {
  if (!v.is_object()) throw Error(where + ": vision_config must be an object");
  VisionConfig c;
  c.hidden = json_int(v, "hidden_size", -1, where);
  c.intermediate = json_int(v, "intermediate_size", -1, where);
  c.n_layers = json_int(v, "num_hidden_layers", -1, where);
  c.n_heads = json_int(v, "num_attention_heads", -1, where);
  c.n_kv_heads = json_int(v, "num_key_value_heads", c.n_heads, where);
  c.head_dim = json_int(v, "head_dim", c.n_heads > 0 ? c.hidden / c.n_heads : 0, where);
  c.patch_size = json_int(v, "patch_size", 16, where);
  c.pooling_kernel = json_int(v, "pooling_kernel_size", 3, where);
  c.position_table = json_int(v, "position_embedding_size", 10240, where);
  if (v.contains("rms_norm_eps") && v["rms_norm_eps"].is_number()) c.eps = v["rms_norm_eps"].get<float>();
  if (v.contains("rope_parameters") && v["rope_parameters"].is_object()) {
    const Json& r = v["rope_parameters"];
    if (r.contains("rope_theta") && r["rope_theta"].is_number()) c.rope_theta = r["rope_theta"].get<double>();
  } else if (v.contains("rope_theta") && v["rope_theta"].is_number()) {
    c.rope_theta = v["rope_theta"].get<double>();
  }
  c.standardize = json_bool(v, "standardize", false, where);
  c.clipped_linears = json_bool(v, "use_clipped_linears", false, where);
  if (v.contains("hidden_activation") && v["hidden_activation"].is_string() &&
      v["hidden_activation"].get<std::string>() != "gelu_pytorch_tanh")
    throw Error(where + ": vision hidden_activation '" + v["hidden_activation"].get<std::string>() +
                "' is not supported (Gemma 4 uses gelu_pytorch_tanh)");
  c.text_hidden = text_hidden;
  check_config(c, where);
  return c;
}

VisionConfig vision_config_from_gguf(const GgufFile& f, int text_hidden) {
  const std::string where = "'" + f.path() + "'";
  VisionConfig c;
  auto u32 = [&](const std::string& key, int fallback) {
    if (!f.has(key)) {
      if (fallback < 0) throw Error(where + ": missing metadata '" + key + "'");
      return fallback;
    }
    return int(f.get_u32(key));
  };
  c.hidden = u32("clip.vision.embedding_length", -1);
  c.intermediate = u32("clip.vision.feed_forward_length", -1);
  c.n_layers = u32("clip.vision.block_count", -1);
  c.n_heads = u32("clip.vision.attention.head_count", -1);
  c.n_kv_heads = u32("clip.vision.attention.head_count_kv", c.n_heads);
  c.head_dim = u32("clip.vision.attention.head_dim", c.n_heads > 0 ? c.hidden / c.n_heads : 0);
  c.patch_size = u32("clip.vision.patch_size", 16);
  c.pooling_kernel = u32("clip.vision.projector.scale_factor", 3);  // llama.cpp: n_merge, default 3
  if (f.has("clip.vision.attention.layer_norm_epsilon")) c.eps = f.get_f32("clip.vision.attention.layer_norm_epsilon");
  c.rope_theta = 100.0;  // llama.cpp's fixed value for gemma4v
  c.text_hidden = text_hidden;
  const GgufTensor* pos = f.find_tensor("v.position_embd.weight");
  if (!pos || pos->ne.size() != 3) throw Error(where + ": missing or malformed 'v.position_embd.weight' (expected [hidden, positions, 2])");
  c.position_table = int(pos->ne[1]);
  c.standardize = f.find_tensor("v.std_bias") != nullptr;
  c.clipped_linears = f.find_tensor("v.blk.0.attn_q.input_max") != nullptr;
  const int proj_dim = u32("clip.vision.projection_dim", text_hidden);
  if (proj_dim != text_hidden)
    throw Error(where + ": the projector's vision projection width " + std::to_string(proj_dim) + " does not match the text model's hidden size " +
                std::to_string(text_hidden) + " (a projector of another model?)");
  check_config(c, where);
  return c;
}

VisionTower::VisionTower(VisionConfig c, const WeightSource& source) : config_(std::move(c)) {
  TowerBinder b(source, "vision tower");
  const int64_t H = config_.hidden, I = config_.intermediate, d = config_.head_dim;
  const int64_t qdim = int64_t(config_.n_heads) * d, kvdim = int64_t(config_.n_kv_heads) * d;
  weights_.input_proj = b.matrix("vision_tower.patch_embedder.input_proj.weight", H, config_.patch_values());
  weights_.position_table = b.values("vision_tower.patch_embedder.position_embedding_table", {2, config_.position_table, H});
  auto clipped = [&](const std::string& base, int64_t rows, int64_t cols) {
    ClippedLinear l;
    l.w = b.matrix(base + ".linear.weight", rows, cols);
    if (config_.clipped_linears) {
      l.clip = true;
      l.in_min = b.scalar(base + ".input_min");
      l.in_max = b.scalar(base + ".input_max");
      l.out_min = b.scalar(base + ".output_min");
      l.out_max = b.scalar(base + ".output_max");
    }
    return l;
  };
  weights_.layers.resize(size_t(config_.n_layers));
  for (int i = 0; i < config_.n_layers; ++i) {
    VisionLayerWeights& l = weights_.layers[size_t(i)];
    const std::string pre = "vision_tower.encoder.layers." + std::to_string(i) + ".";
    l.input_norm = b.vector(pre + "input_layernorm.weight", H);
    l.post_attn_norm = b.vector(pre + "post_attention_layernorm.weight", H);
    l.pre_ffn_norm = b.vector(pre + "pre_feedforward_layernorm.weight", H);
    l.post_ffn_norm = b.vector(pre + "post_feedforward_layernorm.weight", H);
    l.q_norm = b.vector(pre + "self_attn.q_norm.weight", d);
    l.k_norm = b.vector(pre + "self_attn.k_norm.weight", d);
    l.q = clipped(pre + "self_attn.q_proj", qdim, H);
    l.k = clipped(pre + "self_attn.k_proj", kvdim, H);
    l.v = clipped(pre + "self_attn.v_proj", kvdim, H);
    l.o = clipped(pre + "self_attn.o_proj", H, qdim);
    l.gate = clipped(pre + "mlp.gate_proj", I, H);
    l.up = clipped(pre + "mlp.up_proj", I, H);
    l.down = clipped(pre + "mlp.down_proj", H, I);
  }
  if (config_.standardize) {
    weights_.std_bias = b.vector("vision_tower.std_bias", H);
    weights_.std_scale = b.vector("vision_tower.std_scale", H);
  }
  weights_.embed_proj = b.matrix("embed_vision.embedding_projection.weight", config_.text_hidden, H);
}

int64_t VisionTower::parameter_count() const {
  int64_t n = 0;
  auto add = [&](const Weight& w) { n += w.rows * w.cols; };
  add(weights_.input_proj);
  add(weights_.embed_proj);
  n += int64_t(weights_.position_table.size() + weights_.std_bias.size() + weights_.std_scale.size());
  for (const VisionLayerWeights& l : weights_.layers) {
    for (const ClippedLinear* c : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) add(c->w);
    n += int64_t(4 * l.input_norm.size() + l.q_norm.size() + l.k_norm.size());
  }
  return n;
}

size_t VisionTower::weight_bytes() const {
  size_t n = weights_.input_proj.bytes() + weights_.embed_proj.bytes() + weights_.position_table.size() * sizeof(float);
  for (const VisionLayerWeights& l : weights_.layers)
    for (const ClippedLinear* c : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) n += c->w.bytes();
  return n;
}

namespace {

// The pooled row of each patch (-1 for padding) and the pooled length, exactly as the reference's
// _avg_pool_by_positions: kernel index x/k + (max_x/k) * (y/k), where max_x counts padding as x = 0.
struct Pooling {
  int64_t length = 0;
  int k = 1;
  std::vector<int64_t> row;   // per patch
  std::vector<bool> used;     // per pooled row: some patch (padding included) falls in it
};

Pooling plan_pooling(const int32_t* pos, int64_t n, int pooling_kernel) {
  Pooling p;
  const int64_t kk = int64_t(pooling_kernel) * pooling_kernel;
  p.length = n / kk;
  if (p.length <= 0) throw Error("an image needs at least " + std::to_string(kk) + " patches, got " + std::to_string(n));
  p.row.assign(size_t(n), -1);
  if (p.length == n) {  // no pooling (the reference skips it when the lengths agree)
    p.used.assign(size_t(n), true);
    for (int64_t i = 0; i < n; ++i) p.row[size_t(i)] = i;
    return p;
  }
  p.k = int(std::sqrt(double(n / p.length)));
  while ((p.k + 1) * (p.k + 1) * p.length <= n) ++p.k;  // guard the float square root
  if (int64_t(p.k) * p.k * p.length != n)
    throw Error("cannot pool " + std::to_string(n) + " patches to " + std::to_string(p.length) + " soft tokens");
  int64_t max_x = 0;
  for (int64_t i = 0; i < n; ++i) max_x = std::max<int64_t>(max_x, std::max(pos[2 * i], 0));
  max_x += 1;
  p.used.assign(size_t(p.length), false);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t x = pos[2 * i], y = pos[2 * i + 1];
    const bool pad = x == -1 && y == -1;
    if (!pad && (x < 0 || y < 0)) throw Error("patch " + std::to_string(i) + " has a negative position (" + std::to_string(x) + ", " + std::to_string(y) + ")");
    const int64_t cx = std::max(x, 0), cy = std::max(y, 0);
    const int64_t idx = cx / p.k + (max_x / p.k) * (cy / p.k);
    if (idx >= p.length)
      throw Error("patch position (" + std::to_string(x) + ", " + std::to_string(y) + ") falls outside the " + std::to_string(p.length) +
                  " pooled soft tokens of this image");
    p.used[size_t(idx)] = true;
    if (!pad) p.row[size_t(i)] = idx;
  }
  return p;
}

}  // namespace

int64_t VisionTower::soft_token_count(const int32_t* positions, int64_t n_patches, int pooling_kernel) {
  Pooling p = plan_pooling(positions, n_patches, pooling_kernel);
  return std::count(p.used.begin(), p.used.end(), true);
}

void VisionTower::layer(const VisionLayerWeights& lw, float* h, int64_t n, const std::vector<float>& cos,
                        const std::vector<float>& sin, TowerMath math) const {
  const VisionConfig& c = config_;
  const MatmulMath mm = math == TowerMath::Fast ? MatmulMath::Fast : MatmulMath::Exact;
  const int64_t H = c.hidden, I = c.intermediate, d = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads;
  const int64_t qdim = nh * d, kvdim = nkv * d, nf = d / 4;
  std::vector<float> x(size_t(n * H)), x2, q(size_t(n * qdim)), k(size_t(n * kvdim)), v(size_t(n * kvdim));
  ops::rms_norm_rows(h, lw.input_norm.data(), n, H, c.eps, x.data());
  if (same_input_clamp(lw.q, lw.k) && same_input_clamp(lw.q, lw.v)) {
    matmul_many({{&lw.q.w, q.data()}, {&lw.k.w, k.data()}, {&lw.v.w, v.data()}}, x.data(), size_t(n), pool(), mm);
  } else {
    for (auto [l, out] : {std::pair{&lw.q, &q}, std::pair{&lw.k, &k}, std::pair{&lw.v, &v}}) {
      x2 = x;
      linear(*l, x2.data(), n, out->data(), mm);
    }
  }
  ops::rms_norm_rows(q.data(), lw.q_norm.data(), n * nh, d, c.eps);
  ops::rms_norm_rows(k.data(), lw.k_norm.data(), n * nkv, d, c.eps);
  ops::rms_norm_rows(v.data(), nullptr, n * nkv, d, c.eps);
  pool().parallel_for(size_t(n), [&](size_t a, size_t b) {
    for (size_t t = a; t < b; ++t) {
      const float* ct = cos.data() + t * size_t(2 * nf);
      const float* st = sin.data() + t * size_t(2 * nf);
      for (int64_t hd = 0; hd < nh; ++hd) rope_2d(q.data() + int64_t(t) * qdim + hd * d, d, ct, st);
      for (int64_t hd = 0; hd < nkv; ++hd) rope_2d(k.data() + int64_t(t) * kvdim + hd * d, d, ct, st);
    }
  }, 16);
  // Bidirectional attention over the image's patches, scale 1, in f32.
  std::vector<float> attn(size_t(n * qdim));
  std::vector<int64_t> lo(size_t(n), 0), hi(size_t(n), n - 1);
  kernels::AttnShape shape;
  shape.d = d;
  shape.nh = int(nh / nkv);
  shape.k_type = shape.v_type = WType::F32;
  shape.scale = 1.0f;
  std::vector<kernels::AttnProblem> problems;
  for (int64_t g = 0; g < nkv; ++g) {
    kernels::AttnProblem p;
    p.n_q = int(n);
    p.q = q.data() + g * shape.nh * d;
    p.out = attn.data() + g * shape.nh * d;
    p.q_stride = p.out_stride = qdim;
    p.lo = lo.data();
    p.hi = hi.data();
    p.k.base = reinterpret_cast<const uint8_t*>(k.data() + g * d);
    p.k.stride = size_t(kvdim) * sizeof(float);
    p.v.base = reinterpret_cast<const uint8_t*>(v.data() + g * d);
    p.v.stride = p.k.stride;
    problems.push_back(p);
  }
  kernels::attention(shape, problems, math == TowerMath::Fast ? kernels::AttnMath::Fast : kernels::AttnMath::Exact, pool());
  std::vector<float> a(size_t(n * H));
  linear(lw.o, attn.data(), n, a.data(), mm);
  ops::rms_norm_rows(a.data(), lw.post_attn_norm.data(), n, H, c.eps);
  ops::add(h, a.data(), n * H);
  // Gated MLP.
  ops::rms_norm_rows(h, lw.pre_ffn_norm.data(), n, H, c.eps, x.data());
  std::vector<float> g(size_t(n * I)), u(size_t(n * I));
  if (same_input_clamp(lw.gate, lw.up)) {
    matmul_many({{&lw.gate.w, g.data()}, {&lw.up.w, u.data()}}, x.data(), size_t(n), pool(), mm);
  } else {
    x2 = x;
    linear(lw.gate, x2.data(), n, g.data(), mm);
    linear(lw.up, x.data(), n, u.data(), mm);
  }
  ops::gelu_mul(g.data(), u.data(), n * I);
  linear(lw.down, g.data(), n, a.data(), mm);
  ops::rms_norm_rows(a.data(), lw.post_ffn_norm.data(), n, H, c.eps);
  ops::add(h, a.data(), n * H);
}

std::vector<float> VisionTower::encode(const float* pixels, const int32_t* positions, int64_t n_patches, int64_t* n_tokens,
                                       TowerMath math) const {
  const VisionConfig& c = config_;
  const int64_t H = c.hidden, PV = c.patch_values(), d = c.head_dim, nf = d / 4;
  const Pooling pooling = plan_pooling(positions, n_patches, c.pooling_kernel);
  // Only real patches are computed (see the header).
  std::vector<int64_t> real;
  for (int64_t i = 0; i < n_patches; ++i)
    if (pooling.row[size_t(i)] >= 0) real.push_back(i);
  const int64_t n = int64_t(real.size());
  if (n == 0) throw Error("the image has no patches (every position is padding)");
  for (int64_t i : real)
    if (positions[2 * i] >= c.position_table || positions[2 * i + 1] >= c.position_table)
      throw Error("patch position (" + std::to_string(positions[2 * i]) + ", " + std::to_string(positions[2 * i + 1]) +
                  ") exceeds the vision tower's position table of " + std::to_string(c.position_table));

  // Patch embedding: 2(p - 0.5) @ input_proj^T + position rows of x and y.
  std::vector<float> x(size_t(n * PV)), h(size_t(n * H));
  for (int64_t r = 0; r < n; ++r) {
    const float* src = pixels + real[size_t(r)] * PV;
    float* dst = x.data() + r * PV;
    for (int64_t j = 0; j < PV; ++j) dst[j] = 2.0f * (src[j] - 0.5f);
  }
  matmul(weights_.input_proj, x.data(), size_t(n), h.data(), pool());
  const float* tx = weights_.position_table.data();
  const float* ty = tx + int64_t(c.position_table) * H;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t i = real[size_t(r)];
    const float* px = tx + int64_t(positions[2 * i]) * H;
    const float* py = ty + int64_t(positions[2 * i + 1]) * H;
    float* dst = h.data() + r * H;
    for (int64_t j = 0; j < H; ++j) dst[j] += px[j] + py[j];
  }

  // 2-D RoPE angles (f32, as the reference computes them): per patch [x: nf][y: nf].
  std::vector<float> inv(static_cast<size_t>(nf));
  const float half = float(d / 2);
  for (int64_t j = 0; j < nf; ++j) inv[size_t(j)] = 1.0f / std::pow(float(c.rope_theta), float(2 * j) / half);
  std::vector<float> cos(size_t(n * 2 * nf)), sin(cos.size());
  for (int64_t r = 0; r < n; ++r)
    for (int axis = 0; axis < 2; ++axis) {
      const float p = float(positions[2 * real[size_t(r)] + axis]);
      for (int64_t j = 0; j < nf; ++j) {
        const float a = inv[size_t(j)] * p;
        cos[size_t(r * 2 * nf + axis * nf + j)] = std::cos(a);
        sin[size_t(r * 2 * nf + axis * nf + j)] = std::sin(a);
      }
    }

  for (const VisionLayerWeights& lw : weights_.layers) layer(lw, h.data(), n, cos, sin, math);

  // Pooling: each pooled row is the sum of its patches / k^2 (padding patches count as zeros), times
  // sqrt(hidden); rows no patch falls in are dropped.
  const float kk = float(pooling.k * pooling.k);
  std::vector<float> pooled(size_t(pooling.length * H), 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    float* dst = pooled.data() + pooling.row[size_t(real[size_t(r)])] * H;
    const float* src = h.data() + r * H;
    if (pooling.k == 1) {
      std::memcpy(dst, src, size_t(H) * sizeof(float));
    } else {
      for (int64_t j = 0; j < H; ++j) dst[j] += src[j] / kk;
    }
  }
  const float root = float(std::sqrt(double(H)));
  std::vector<float> soft;
  soft.reserve(size_t(pooling.length * H));
  for (int64_t t = 0; t < pooling.length; ++t) {
    if (!pooling.used[size_t(t)]) continue;
    for (int64_t j = 0; j < H; ++j) {
      float val = pooled[size_t(t * H + j)] * root;
      if (c.standardize) val = (val - weights_.std_bias[size_t(j)]) * weights_.std_scale[size_t(j)];
      soft.push_back(val);
    }
  }
  const int64_t N = int64_t(soft.size()) / H;
  // embed_vision: scale-free RMSNorm, then the projection to the text width.
  ops::rms_norm_rows(soft.data(), nullptr, N, H, c.eps);
  std::vector<float> out(size_t(N * c.text_hidden));
  matmul(weights_.embed_proj, soft.data(), size_t(N), out.data(), pool());
  if (n_tokens) *n_tokens = N;
  return out;
}

}  // namespace g4

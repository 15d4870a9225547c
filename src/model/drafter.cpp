#include "model/drafter.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <numeric>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/ops.h"
#include "quant/flash_attention.h"
#include "quant/kernels.h"

namespace g4 {

namespace {

ThreadPool& pool() { return ThreadPool::global(); }

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A matrix beside the decoder (projections, centroids, an untied head); empty when absent and not required.
Weight bind_matrix(const WeightSource& source, const std::string& name, int64_t rows, int64_t cols, bool required) {
  const SourceTensor* t = source.find_shaped(name, {rows, cols});
  if (!t) {
    if (required) throw Error("missing tensor '" + name + "' in " + source.describe() + " (needed by this Gemma 4 drafter)");
    return {};
  }
  if (t->shape != std::vector<int64_t>{rows, cols})
    throw Error("tensor '" + t->name + "' in '" + t->file + "' has shape " + shape_str(t->shape) + ", expected " +
                shape_str({rows, cols}) + " from the drafter configuration");
  Weight w;
  w.data = t->data;
  w.type = t->type;
  w.rows = rows;
  w.cols = cols;
  if (w.bytes() != t->nbytes)
    throw Error("tensor '" + t->name + "' in '" + t->file + "' holds " + std::to_string(t->nbytes) + " bytes, expected " +
                std::to_string(w.bytes()));
  return w;
}

int json_int(const Json& j, const char* key, int fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback < 0) throw Error(where + ": missing field '" + key + "'");
    return fallback;
  }
  if (!j[key].is_number_integer() || j[key].get<long long>() < 0 || j[key].get<long long>() > (1ll << 30))
    throw Error(where + ": field '" + std::string(key) + "' must be a non-negative integer");
  return j[key].get<int>();
}

const char* type_name(LayerType t) { return t == LayerType::Full ? "full" : "sliding"; }

}  // namespace

DrafterConfig drafter_config_from_hf_json(const Json& root, const std::string& where) {
  if (!root.is_object()) throw Error(where + ": config.json is not a JSON object");
  const std::string mt = root.contains("model_type") && root["model_type"].is_string() ? root["model_type"].get<std::string>() : "";
  if (mt != "gemma4_assistant")
    throw Error(where + ": model_type is '" + mt + "', expected 'gemma4_assistant' (a Gemma 4 MTP drafter)");
  if (!root.contains("text_config") || !root["text_config"].is_object())
    throw Error(where + ": a gemma4_assistant config needs a text_config object");
  Json text = root["text_config"];
  const std::string tw = where + " (text_config)";
  if (json_int(text, "hidden_size_per_layer_input", 0, tw) != 0)
    throw Error(tw + ": a drafter has no per-layer embeddings (hidden_size_per_layer_input must be 0)");
  auto flag_set = [&](const char* key) { return text.contains(key) && text[key].is_boolean() && text[key].get<bool>(); };
  if (flag_set("enable_moe_block")) throw Error(tw + ": a drafter has no mixture of experts");
  if (flag_set("use_double_wide_mlp")) throw Error(tw + ": a drafter has no double-wide MLP");
  // Every drafter layer reads the target's K/V: none has K/V of its own to share.
  text["model_type"] = "gemma4_text";
  text["num_kv_shared_layers"] = 0;
  text["hidden_size_per_layer_input"] = 0;
  DrafterConfig d;
  d.text = config_from_hf_json(text, tw);
  d.text.model_type = mt;
  d.text.final_logit_softcap = 0.0f;  // the assistant never softcaps
  for (LayerPlan& p : d.text.layers) p.kv_source = -1;
  d.backbone_hidden = json_int(root, "backbone_hidden_size", -1, where);
  if (d.backbone_hidden <= 0) throw Error(where + ": backbone_hidden_size must be positive");
  if (root.contains("use_ordered_embeddings") && !root["use_ordered_embeddings"].is_null()) {
    if (!root["use_ordered_embeddings"].is_boolean()) throw Error(where + ": use_ordered_embeddings must be true or false");
    d.ordered_embeddings = root["use_ordered_embeddings"].get<bool>();
  }
  if (d.ordered_embeddings) {
    d.n_centroids = json_int(root, "num_centroids", 2048, where);
    d.centroid_top_k = json_int(root, "centroid_intermediate_top_k", 32, where);
    if (d.n_centroids <= 0 || d.text.vocab_size % d.n_centroids != 0)
      throw Error(where + ": num_centroids (" + std::to_string(d.n_centroids) + ") must divide the vocabulary (" +
                  std::to_string(d.text.vocab_size) + ")");
    if (d.centroid_top_k <= 0 || d.centroid_top_k > d.n_centroids)
      throw Error(where + ": centroid_intermediate_top_k must be between 1 and num_centroids");
  }
  return d;
}

Drafter::Drafter(DrafterConfig config, std::shared_ptr<WeightSource> source, std::vector<int32_t> token_ordering)
    : config_(std::move(config)), source_(std::move(source)) {
  const ModelConfig& c = config_.text;
  const int64_t h = c.hidden_size, HT = config_.backbone_hidden, V = c.vocab_size;
  weights_.core = bind_weights(c, *source_);
  // find() first: a random source would create the untied head on request.
  if (source_->find("lm_head.weight")) weights_.head = bind_matrix(*source_, "lm_head.weight", V, h, true);
  if (weights_.head.empty()) weights_.head = weights_.core.embed;
  weights_.pre_projection = bind_matrix(*source_, "pre_projection.weight", h, 2 * HT, true);
  weights_.post_projection = bind_matrix(*source_, "post_projection.weight", HT, h, true);
  if (config_.ordered_embeddings) {
    weights_.centroids = bind_matrix(*source_, "masked_embedding.centroids.weight", config_.n_centroids, h, true);
    if (int64_t(token_ordering.size()) != V)
      throw Error("the drafter's token ordering (masked_embedding.token_ordering) has " + std::to_string(token_ordering.size()) +
                  " entries in " + source_->describe() + ", expected the vocabulary size " + std::to_string(V));
    for (int32_t id : token_ordering)
      if (id < 0 || id >= V) throw Error("the drafter's token ordering holds id " + std::to_string(id) + ", outside the vocabulary");
    weights_.token_ordering = std::move(token_ordering);
  }
  for (const LayerPlan& p : c.layers) rope_.emplace_back(c.rope(p.type), p.head_dim);
}

int Drafter::target_kv_layer(const ModelConfig& target, LayerType type) {
  const int first_shared = target.n_layers - target.n_kv_shared_layers;
  for (int j = first_shared - 1; j >= 0; --j)
    if (target.layers[size_t(j)].type == type) return j;
  return -1;
}

void Drafter::check_compatible(const ModelConfig& target) const {
  const ModelConfig& c = config_.text;
  const std::string pre = "the drafter does not fit this target model: ";
  if (target.family != Family::Gemma4) throw Error(pre + "drafters exist only for Gemma 4 targets");
  if (config_.backbone_hidden != target.hidden_size)
    throw Error(pre + "it was made for a hidden size of " + std::to_string(config_.backbone_hidden) + " (backbone_hidden_size), the target's is " +
                std::to_string(target.hidden_size));
  if (c.vocab_size != target.vocab_size)
    throw Error(pre + "its vocabulary has " + std::to_string(c.vocab_size) + " tokens, the target's " + std::to_string(target.vocab_size));
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    const int t = target_kv_layer(target, p.type);
    if (t < 0) throw Error(pre + "drafter layer " + std::to_string(i) + " is a " + type_name(p.type) + " layer; the target has none");
    const LayerPlan& tp = target.layers[size_t(t)];
    if (tp.head_dim != p.head_dim || tp.n_kv_heads != p.n_kv_heads)
      throw Error(pre + "drafter layer " + std::to_string(i) + " (" + type_name(p.type) + ") expects head dim " + std::to_string(p.head_dim) +
                  " with " + std::to_string(p.n_kv_heads) + " KV heads; the target's " + type_name(p.type) + " K/V (layer " +
                  std::to_string(t) + ") has head dim " + std::to_string(tp.head_dim) + " with " + std::to_string(tp.n_kv_heads) +
                  " KV heads");
  }
}

void Drafter::head_logits(const float* hn, float* logits) const {
  const ModelConfig& c = config_.text;
  const int64_t h = c.hidden_size, V = c.vocab_size;
  if (!config_.ordered_embeddings) {
    matmul(weights_.head, hn, 1, logits, pool());
    return;
  }
  // Ordered embeddings: only the tokens of the top centroids are scored (HF's masked_embedding).
  const int64_t C = config_.n_centroids, K = config_.centroid_top_k, per = V / C;
  std::vector<float> cl(static_cast<size_t>(C));
  matmul(weights_.centroids, hn, 1, cl.data(), pool());
  std::vector<int32_t> order(static_cast<size_t>(C));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + K, order.end(),
                    [&](int32_t a, int32_t b) { return cl[size_t(a)] > cl[size_t(b)] || (cl[size_t(a)] == cl[size_t(b)] && a < b); });
  std::vector<int32_t> ids;
  ids.reserve(size_t(K * per));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < per; ++j) ids.push_back(weights_.token_ordering[size_t(order[size_t(k)] * per + j)]);
  std::vector<float> row(static_cast<size_t>(h)), sel(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    dequantize_row(weights_.head, ids[i], row.data());
    sel[i] = kernels::dot_f32(row.data(), hn, h);
  }
  const float floor = *std::min_element(sel.begin(), sel.end()) - 1.0f;
  std::fill(logits, logits + V, floor);
  for (size_t i = 0; i < ids.size(); ++i) logits[ids[i]] = sel[i];
}

void Drafter::step(const Model& target, const KVCache& cache, int64_t pos, int32_t token, const float* h_prev, float* logits,
                   float* h_next) const {
  const ModelConfig& c = config_.text;
  const ModelConfig& tc = target.config();
  const int64_t HT = config_.backbone_hidden, h = c.hidden_size, V = c.vocab_size;
  const float eps = c.rms_norm_eps;
  if (pos < 1 || pos > cache.n_past()) throw Error("drafting needs the target's K/V of every position before " + std::to_string(pos));
  if (token < 0 || token >= V) throw Error("token id " + std::to_string(token) + " is out of range for the drafter");
  // Input: the target's scaled embedding of the token, then the target's hidden state.
  std::vector<float> in(size_t(2 * HT)), x(static_cast<size_t>(h)), xn(static_cast<size_t>(h)), a(static_cast<size_t>(h));
  dequantize_row(target.weights().embed, token, in.data());
  ops::scale(in.data(), float(std::sqrt(double(HT))), HT);
  std::copy(h_prev, h_prev + HT, in.begin() + HT);
  matmul(weights_.pre_projection, in.data(), 1, x.data(), pool());

  const KVTypes types = cache.types();
  const kernels::AttnMath math = types.k == KVType::F32 && types.v == KVType::F32 ? kernels::AttnMath::Exact : kernels::AttnMath::Fast;
  std::vector<float> q, attn, g, u;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerPlan& p = c.layers[i];
    const LayerWeights& lw = weights_.core.layers[i];
    const int src = target_kv_layer(tc, p.type);
    const int64_t d = p.head_dim, nh = c.n_heads, n_kv = p.n_kv_heads, group = nh / n_kv;
    ops::rms_norm(x.data(), lw.input_norm.data(), h, eps, xn.data());
    q.resize(size_t(nh * d));
    matmul(lw.q, xn.data(), 1, q.data(), pool());
    ops::rms_norm_rows(q.data(), lw.q_norm.data(), nh, d, eps);
    rope_[i].apply(q.data(), int(nh), pos);
    // No cache of its own: the query sees the target's K/V before `pos`. Sliding layers see the last W + 1
    // entries: transformers builds the drafter's mask as a bidirectional window |q - kv| <= W over the
    // handed-over K/V (flipped), and the fixtures' drafts match only with that inclusive bound.
    const bool sliding = p.type == LayerType::Sliding && c.sliding_window > 0;
    const int64_t lo = sliding ? std::max<int64_t>(0, pos - c.sliding_window - 1) : 0, hi = pos - 1;
    attn.assign(size_t(nh * d), 0.0f);
    kernels::AttnShape shape;
    shape.d = d;
    shape.nh = int(group);
    shape.k_type = kv_storage_type(types.k);
    shape.v_type = kv_storage_type(types.v);
    shape.scale = 1.0f;
    std::vector<kernels::AttnProblem> problems;
    for (int64_t gi = 0; gi < n_kv; ++gi) {
      kernels::AttnProblem pr;
      pr.n_q = 1;
      pr.q = q.data() + gi * group * d;
      pr.out = attn.data() + gi * group * d;
      pr.q_stride = pr.out_stride = nh * d;
      pr.lo = &lo;
      pr.hi = &hi;
      pr.k = cache.key_rows(src, int(gi));
      pr.v = cache.value_rows(src, int(gi));
      if (pr.k.ring > 0 && pos - lo > pr.k.ring)
        throw Error("the target's sliding KV ring (" + std::to_string(pr.k.ring) + " positions) cannot hold the drafter's window of " +
                    std::to_string(pos - lo));
      problems.push_back(pr);
    }
    kernels::attention(shape, problems, math, pool());
    matmul(lw.o, attn.data(), 1, a.data(), pool());
    ops::rms_norm(a.data(), lw.post_attn_norm.data(), h, eps, a.data());
    ops::add(x.data(), a.data(), h);
    // Feed-forward (GELU-gated MLP, sandwich norms), then the layer scalar.
    ops::rms_norm(x.data(), lw.pre_ffn_norm.data(), h, eps, xn.data());
    g.resize(size_t(p.ffn_dim));
    u.resize(size_t(p.ffn_dim));
    matmul_many({{&lw.gate, g.data()}, {&lw.up, u.data()}}, xn.data(), 1, pool());
    ops::gelu_mul(g.data(), u.data(), p.ffn_dim);
    matmul(lw.down, g.data(), 1, a.data(), pool());
    ops::rms_norm(a.data(), lw.post_ffn_norm.data(), h, eps, a.data());
    ops::add(x.data(), a.data(), h);
    ops::scale(x.data(), lw.layer_scalar, h);
  }
  ops::rms_norm(x.data(), weights_.core.final_norm.data(), h, eps, xn.data());
  head_logits(xn.data(), logits);
  matmul(weights_.post_projection, xn.data(), 1, h_next, pool());
}

std::vector<int32_t> Drafter::draft(const Model& target, const KVCache& cache, int32_t token, const std::vector<float>& h_prev, int k,
                                    std::vector<float>* logits, std::vector<float>* hidden) const {
  const int64_t HT = config_.backbone_hidden, V = config_.text.vocab_size;
  if (int64_t(h_prev.size()) != HT) throw Error("drafting needs the target's hidden state of " + std::to_string(HT) + " values");
  const int64_t pos = cache.n_past();
  std::vector<float> hcur = h_prev, hnext(static_cast<size_t>(HT)), lg(static_cast<size_t>(V));
  std::vector<int32_t> ids;
  if (logits) logits->clear();
  if (hidden) hidden->clear();
  for (int i = 0; i < k; ++i) {
    step(target, cache, pos, token, hcur.data(), lg.data(), hnext.data());
    token = int32_t(std::max_element(lg.begin(), lg.end()) - lg.begin());  // first maximum, as torch.argmax
    ids.push_back(token);
    if (logits) logits->insert(logits->end(), lg.begin(), lg.end());
    if (hidden) hidden->insert(hidden->end(), hnext.begin(), hnext.end());
    hcur.swap(hnext);
  }
  return ids;
}

int64_t Drafter::parameter_count() const {
  int64_t n = 0;
  auto add = [&](const Weight& w) { n += w.empty() ? 0 : w.rows * w.cols; };
  add(weights_.core.embed);
  if (weights_.head.data != weights_.core.embed.data) add(weights_.head);
  add(weights_.pre_projection);
  add(weights_.post_projection);
  add(weights_.centroids);
  n += int64_t(weights_.core.final_norm.size());
  for (const LayerWeights& l : weights_.core.layers) {
    for (const Weight* w : {&l.q, &l.o, &l.gate, &l.up, &l.down}) add(*w);
    n += int64_t(l.input_norm.size() + l.post_attn_norm.size() + l.pre_ffn_norm.size() + l.post_ffn_norm.size() + l.q_norm.size()) + 1;
  }
  return n;
}

size_t Drafter::weight_bytes() const {
  size_t n = 0;
  auto add = [&](const Weight& w) { n += w.empty() ? 0 : w.bytes(); };
  add(weights_.core.embed);
  if (weights_.head.data != weights_.core.embed.data) add(weights_.head);
  add(weights_.pre_projection);
  add(weights_.post_projection);
  add(weights_.centroids);
  for (const LayerWeights& l : weights_.core.layers)
    for (const Weight* w : {&l.q, &l.o, &l.gate, &l.up, &l.down}) add(*w);
  return n;
}

namespace {

const std::vector<std::string> kHfExtra = {"pre_projection.weight", "post_projection.weight", "masked_embedding.centroids.weight",
                                           "masked_embedding.token_ordering", "lm_head.weight"};

}  // namespace

bool is_hf_drafter(const std::string& dir) {
  if (!is_directory(dir) || !file_exists(dir + "/config.json")) return false;
  const Json j = parse_json(read_text_file(dir + "/config.json"), dir + "/config.json");
  return j.is_object() && j.contains("model_type") && j["model_type"].is_string() && j["model_type"].get<std::string>() == "gemma4_assistant";
}

DrafterConfig read_drafter_config(const std::string& path) {
  if (is_directory(path)) {
    const std::string cfg = path + "/config.json";
    if (!file_exists(cfg)) throw Error("no config.json in " + path + ": expected a Hugging Face drafter folder");
    return drafter_config_from_hf_json(parse_json(read_text_file(cfg), cfg), cfg);
  }
  if (!file_exists(path)) throw Error("drafter path '" + path + "' does not exist");
  if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") return read_gguf_drafter_config(path);
  throw Error("drafter '" + path + "' is neither a Hugging Face folder nor a .gguf file");
}

std::unique_ptr<Drafter> load_drafter(const std::string& path) {
  if (!is_directory(path)) {
    if (!file_exists(path)) throw Error("drafter path '" + path + "' does not exist");
    if (path.size() > 5 && path.substr(path.size() - 5) == ".gguf") return load_gguf_drafter(path);
    throw Error("drafter '" + path + "' is neither a Hugging Face folder nor a .gguf file");
  }
  DrafterConfig config = read_drafter_config(path);
  std::map<std::string, std::vector<int64_t>> integers;
  std::shared_ptr<WeightSource> source = open_hf_weights(path, kHfExtra, &integers);
  std::vector<int32_t> ordering;
  if (config.ordered_embeddings) {
    auto it = integers.find("masked_embedding.token_ordering");
    if (it == integers.end())
      throw Error("missing tensor 'masked_embedding.token_ordering' in " + path + " (use_ordered_embeddings is true)");
    for (int64_t v : it->second) {
      if (v < 0 || v > INT32_MAX) throw Error("the drafter's token ordering holds id " + std::to_string(v) + ", outside the vocabulary");
      ordering.push_back(int32_t(v));
    }
  }
  return std::make_unique<Drafter>(std::move(config), std::move(source), std::move(ordering));
}

}  // namespace g4

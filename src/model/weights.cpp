#include "model/weights.h"

#include "core/error.h"

namespace g4 {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Binder {
 public:
  Binder(const ModelConfig& c, const WeightSource& s) : config_(c), source_(s) {}

  const SourceTensor& tensor(const std::string& name, const std::vector<int64_t>& shape) const {
    const SourceTensor* t = source_.find_shaped(name, shape);
    if (!t) throw Error("missing tensor '" + name + "' in " + source_.describe() + " (needed by this " + config_.family_name() + " configuration)");
    if (t->shape != shape)
      throw Error("tensor '" + t->name + "' in '" + t->file + "' has shape " + shape_str(t->shape) + ", expected " + shape_str(shape) +
                  " from the model configuration");
    return *t;
  }

  Weight matrix(const std::string& name, int64_t rows, int64_t cols) const {
    const SourceTensor& t = tensor(name, {rows, cols});
    return as_weight(t, rows, cols);
  }

  // A stacked [n, rows, cols] tensor as one weight of n*rows rows.
  Weight stacked(const std::string& name, int64_t n, int64_t rows, int64_t cols) const {
    const SourceTensor& t = tensor(name, {n, rows, cols});
    return as_weight(t, n * rows, cols);
  }

  std::vector<float> vector(const std::string& name, int64_t n, bool norm = false) const {
    const SourceTensor& t = tensor(name, {n});
    Weight w = as_weight(t, 1, n);
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(w, 0, out.data());
    if (norm && config_.norm_adds_one)
      for (float& x : out) x += 1.0f;
    return out;
  }

  std::vector<float> norm(const std::string& name, int64_t n) const { return vector(name, n, true); }

  bool has(const std::string& name) const { return source_.find(name) != nullptr; }

 private:
  const ModelConfig& config_;
  const WeightSource& source_;
};

}  // namespace

Weight as_weight(const SourceTensor& t, int64_t rows, int64_t cols) {
  Weight w;
  w.data = t.data;
  w.type = t.type;
  w.rows = rows;
  w.cols = cols;
  (void)wtype_row_bytes(w.type, cols);  // throws when a row is not a whole number of blocks
  if (w.bytes() != t.nbytes)
    throw Error("tensor '" + t.name + "' in '" + t.file + "' holds " + std::to_string(t.nbytes) + " bytes, expected " +
                std::to_string(w.bytes()) + " for its shape and type");
  return w;
}

ModelWeights bind_weights(const ModelConfig& c, const WeightSource& source) {
  Binder b(c, source);
  const int64_t H = c.hidden_size, V = c.vocab_size, L = c.n_layers, P = c.ple_dim;
  ModelWeights w;
  w.embed = b.matrix("embed_tokens.weight", V, H);
  w.final_norm = b.norm("norm.weight", H);
  if (c.has_ple()) {
    w.ple_embed = b.matrix("embed_tokens_per_layer.weight", c.ple_vocab, L * P);
    w.ple_model_proj = b.matrix("per_layer_model_projection.weight", L * P, H);
    w.ple_proj_norm = b.norm("per_layer_projection_norm.weight", P);
  }
  w.layers.resize(size_t(L));
  for (int i = 0; i < L; ++i) {
    const LayerPlan& p = c.layers[size_t(i)];
    LayerWeights& lw = w.layers[size_t(i)];
    const std::string pre = "layers." + std::to_string(i) + ".";
    const int64_t qdim = int64_t(c.n_heads) * p.head_dim, kvdim = int64_t(p.n_kv_heads) * p.head_dim;
    lw.input_norm = b.norm(pre + "input_layernorm.weight", H);
    lw.post_attn_norm = b.norm(pre + "post_attention_layernorm.weight", H);
    lw.pre_ffn_norm = b.norm(pre + "pre_feedforward_layernorm.weight", H);
    lw.post_ffn_norm = b.norm(pre + "post_feedforward_layernorm.weight", H);
    lw.q = b.matrix(pre + "self_attn.q_proj.weight", qdim, H);
    lw.q_norm = b.norm(pre + "self_attn.q_norm.weight", p.head_dim);
    lw.o = b.matrix(pre + "self_attn.o_proj.weight", H, qdim);
    if (!p.shares_kv(i)) {  // KV-shared layers may carry unused k/v copies (original E2B/E4B): ignored
      lw.k = b.matrix(pre + "self_attn.k_proj.weight", kvdim, H);
      lw.k_norm = b.norm(pre + "self_attn.k_norm.weight", p.head_dim);
      if (!p.k_eq_v) lw.v = b.matrix(pre + "self_attn.v_proj.weight", kvdim, H);
    }
    lw.gate = b.matrix(pre + "mlp.gate_proj.weight", p.ffn_dim, H);
    lw.up = b.matrix(pre + "mlp.up_proj.weight", p.ffn_dim, H);
    lw.down = b.matrix(pre + "mlp.down_proj.weight", H, p.ffn_dim);
    if (p.moe) {
      const int64_t E = c.n_experts, Im = c.moe_intermediate_size;
      lw.router = b.matrix(pre + "router.proj.weight", E, H);
      lw.router_scale = b.vector(pre + "router.scale", H);
      lw.per_expert_scale = b.vector(pre + "router.per_expert_scale", E);
      Weight down = b.stacked(pre + "experts.down_proj", E, H, Im);
      lw.experts.resize(size_t(E));
      if (b.has(pre + "experts.gate_proj")) {  // split gate/up stacks (GGUF ffn_gate_exps + ffn_up_exps)
        Weight gate = b.stacked(pre + "experts.gate_proj", E, Im, H);
        Weight up = b.stacked(pre + "experts.up_proj", E, Im, H);
        for (int64_t e = 0; e < E; ++e) {
          lw.experts[size_t(e)].gate = gate.slice_rows(e * Im, Im);
          lw.experts[size_t(e)].up = up.slice_rows(e * Im, Im);
        }
      } else {
        Weight gate_up = b.stacked(pre + "experts.gate_up_proj", E, 2 * Im, H);
        for (int64_t e = 0; e < E; ++e) {
          lw.experts[size_t(e)].gate = gate_up.slice_rows(e * 2 * Im, Im);   // packed gate-first
          lw.experts[size_t(e)].up = gate_up.slice_rows(e * 2 * Im + Im, Im);
        }
      }
      for (int64_t e = 0; e < E; ++e) lw.experts[size_t(e)].down = down.slice_rows(e * H, H);
      lw.pre_ffn_norm2 = b.norm(pre + "pre_feedforward_layernorm_2.weight", H);
      lw.post_ffn_norm1 = b.norm(pre + "post_feedforward_layernorm_1.weight", H);
      lw.post_ffn_norm2 = b.norm(pre + "post_feedforward_layernorm_2.weight", H);
    }
    if (c.has_ple()) {
      lw.ple_gate = b.matrix(pre + "per_layer_input_gate.weight", P, H);
      lw.ple_proj = b.matrix(pre + "per_layer_projection.weight", H, P);
      lw.post_ple_norm = b.norm(pre + "post_per_layer_input_norm.weight", H);
    }
    if (c.has_layer_scalar) lw.layer_scalar = b.vector(pre + "layer_scalar", 1)[0];
  }
  return w;
}

}  // namespace g4

// The drafter GGUF writer (`gemma4 convert` of a gemma4_assistant folder): llama.cpp's gemma4-assistant
// layout, described where it is read (model/drafter_gguf.cpp), plus our ordered-embedding tensors.
#include "convert/drafter_gguf_writer.h"

#include <cstring>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "model/gguf_config.h"

namespace g4 {

namespace {

constexpr const char* kArch = kDrafterGgufArch;
constexpr uint32_t kGgmlI32 = kGgmlTypeI32;

// The drafter's tensors: Hugging Face name and PyTorch shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> drafter_tensors(const DrafterConfig& d) {
  const ModelConfig& c = d.text;
  const int64_t h = c.hidden_size, V = c.vocab_size, HT = d.backbone_hidden;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {
      {"embed_tokens.weight", {V, h}}, {"norm.weight", {h}}, {"pre_projection.weight", {h, 2 * HT}}, {"post_projection.weight", {HT, h}}};
  if (d.ordered_embeddings) out.push_back({"masked_embedding.centroids.weight", {d.n_centroids, h}});
  for (int i = 0; i < c.n_layers; ++i) {
    const LayerPlan& p = c.layers[size_t(i)];
    const std::string pre = "layers." + std::to_string(i) + ".";
    const int64_t q = int64_t(c.n_heads) * p.head_dim;
    for (const char* n : {"input_layernorm.weight", "post_attention_layernorm.weight", "pre_feedforward_layernorm.weight",
                          "post_feedforward_layernorm.weight"})
      out.push_back({pre + n, {h}});
    out.push_back({pre + "self_attn.q_proj.weight", {q, h}});
    out.push_back({pre + "self_attn.q_norm.weight", {p.head_dim}});
    out.push_back({pre + "self_attn.o_proj.weight", {h, q}});
    out.push_back({pre + "mlp.gate_proj.weight", {p.ffn_dim, h}});
    out.push_back({pre + "mlp.up_proj.weight", {p.ffn_dim, h}});
    out.push_back({pre + "mlp.down_proj.weight", {h, p.ffn_dim}});
    out.push_back({pre + "layer_scalar", {1}});
  }
  return out;
}

void write_metadata(const Drafter& drafter, GgufWriter& w, const std::string& name, WType type) {
  const DrafterConfig& d = drafter.config();
  const ModelConfig& c = d.text;
  const std::string p = std::string(kArch) + ".";
  int hd_full = 0, hd_swa = 0;
  std::vector<int64_t> kv, ff, swa;
  for (const LayerPlan& l : c.layers) {
    (l.type == LayerType::Full ? hd_full : hd_swa) = l.head_dim;
    kv.push_back(l.n_kv_heads);
    ff.push_back(l.ffn_dim);
    swa.push_back(l.type == LayerType::Sliding ? 1 : 0);
  }
  if (hd_swa == 0) hd_swa = hd_full;
  w.set_string("general.architecture", kArch);
  w.set_string("general.type", "model");
  w.set_string("general.name", name);
  w.set_u32("general.file_type", llama_ftype_for(uint32_t(type)));
  w.set_u32("general.quantization_version", 2);
  w.set_u32(p + "block_count", uint32_t(c.n_layers));
  w.set_u32(p + "nextn_predict_layers", uint32_t(c.n_layers));
  w.set_u32(p + "context_length", uint32_t(c.max_position_embeddings > 0 ? c.max_position_embeddings : 131072));
  w.set_u32(p + "embedding_length", uint32_t(c.hidden_size));
  w.set_u32(p + "embedding_length_out", uint32_t(d.backbone_hidden));
  w.set_u32(p + "embedding_length_per_layer_input", 0);
  w.set(p + "feed_forward_length", GgufValue::int_array(GgufType::I32, ff));
  w.set_u32(p + "attention.head_count", uint32_t(c.n_heads));
  w.set(p + "attention.head_count_kv", GgufValue::int_array(GgufType::I32, kv));
  w.set_u32(p + "attention.key_length", uint32_t(hd_full));
  w.set_u32(p + "attention.value_length", uint32_t(hd_full));
  w.set_u32(p + "attention.key_length_swa", uint32_t(hd_swa));
  w.set_u32(p + "attention.value_length_swa", uint32_t(hd_swa));
  w.set_u32(p + "rope.dimension_count", uint32_t(hd_full));
  w.set_u32(p + "rope.dimension_count_swa", uint32_t(hd_swa));
  w.set_f32(p + "rope.freq_base", float(c.rope_full.theta));
  w.set_f32(p + "rope.freq_base_swa", float(c.rope_sliding.theta));
  w.set_f32(p + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  w.set_u32(p + "attention.sliding_window", uint32_t(c.sliding_window));
  w.set(p + "attention.sliding_window_pattern", GgufValue::int_array(GgufType::BOOL, swa));
  w.set_u32(p + "attention.shared_kv_layers", uint32_t(c.n_layers));  // as llama.cpp's converter writes it
  if (d.ordered_embeddings) w.set_u32(p + "centroid_top_k", uint32_t(d.centroid_top_k));
}

}  // namespace

WriteReport write_drafter_gguf(const Drafter& drafter, const std::string& out, WType type, const std::string& name,
                               const std::string& vocab) {
  const DrafterConfig& d = drafter.config();
  if (drafter.weights().head.data != drafter.weights().core.embed.data)
    throw Error("this drafter has an untied lm_head; llama.cpp's gemma4-assistant GGUF ties the head to token_embd");
  WriteReport report;
  GgufWriter w;
  write_metadata(drafter, w, name, type);
  std::shared_ptr<const GgufFile> v;  // the copied metadata points into it until written
  if (!vocab.empty()) {
    v = GgufFile::open(vocab);
    const std::string note = copy_tokenizer_metadata(*v, w, d.text.vocab_size);
    if (!note.empty()) report.notes.push_back(note);
  }
  if (d.ordered_embeddings)
    report.notes.push_back("ordered embeddings written as masked_embd_centroids.weight / masked_embd_ordering; llama.cpp's own converter "
                           "drops them and drafts with the full head");
  const std::vector<float> rope = gguf_rope_freqs(d.text);
  if (!rope.empty()) {
    std::vector<uint8_t> b(rope.size() * 4);
    std::memcpy(b.data(), rope.data(), b.size());
    w.add_tensor("rope_freqs.weight", 0, {int64_t(rope.size())}, std::move(b));
  }
  const WeightSource& src = drafter.source();
  std::vector<float> row;
  for (const auto& [hf, shape] : drafter_tensors(d)) {
    const SourceTensor* st = src.find(hf);
    if (!st) throw Error("internal: the drafter lacks '" + hf + "'");
    const std::string gname = gguf_name_for_hf(hf);
    if (gname.empty()) throw Error("internal: no GGUF name for '" + hf + "'");
    std::vector<int64_t> ne(shape.rbegin(), shape.rend());
    const uint32_t gt = gguf_tensor_type(gname, ne, type);
    Weight in;
    in.data = st->data;
    in.type = st->type;
    in.cols = shape.back();
    in.rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) in.rows *= shape[i];
    const size_t rb = wtype_row_bytes(WType(gt), in.cols);
    std::vector<uint8_t> bytes(rb * size_t(in.rows));
    row.resize(size_t(in.cols));
    for (int64_t r = 0; r < in.rows; ++r) {
      dequantize_row(in, r, row.data());
      quantize_row(WType(gt), row.data(), bytes.data() + size_t(r) * rb, in.cols);
    }
    report.bytes += bytes.size();
    ++report.n_tensors;
    w.add_tensor(gname, gt, ne, std::move(bytes));
  }
  if (d.ordered_embeddings) {
    const std::vector<int32_t>& o = drafter.weights().token_ordering;
    std::vector<uint8_t> b(o.size() * 4);
    std::memcpy(b.data(), o.data(), b.size());
    w.add_tensor("masked_embd_ordering", kGgmlI32, {int64_t(o.size())}, std::move(b));
    ++report.n_tensors;
  }
  w.write(out);
  return report;
}

}  // namespace g4

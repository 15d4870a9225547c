// Drafters in llama.cpp GGUF files, architecture "gemma4-assistant" (llama.cpp src/models/gemma4-assistant.cpp,
// conversion/gemma.py Gemma4AssistantModel): the decoder's usual gemma4 keys under the "gemma4-assistant."
// prefix, embedding_length = the drafter's width, embedding_length_out = the target's hidden size;
// tensors token_embd (the tied head), output_norm, nextn.pre_projection, nextn.post_projection, blk.N.
// {attn_norm, attn_q, attn_q_norm, attn_output, post_attention_norm, ffn_norm, ffn_gate, ffn_up, ffn_down,
// post_ffw_norm, layer_output_scale}, rope_freqs.
//
// Ordered embeddings: llama.cpp names masked_embd_centroids and masked_embd_ordering but its converter
// leaves them out (and its graph scores the whole vocabulary). Ours (convert/drafter_gguf_writer.cpp)
// writes them when the drafter has them, as "masked_embd_centroids.weight" (ne {h, C}) and "masked_embd_ordering" (I32, ne {V}), with the
// top-k in "gemma4-assistant.centroid_top_k"; a file without them drafts with the full head.
#include <cstring>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/drafter.h"
#include "model/gguf_config.h"

namespace g4 {

namespace {

constexpr const char* kArch = kDrafterGgufArch;
constexpr uint32_t kGgmlI32 = kGgmlTypeI32;

}  // namespace

DrafterConfig drafter_config_from_gguf(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture", "");
  if (arch != kArch)
    throw Error("'" + f.path() + "': architecture '" + arch + "' is not a Gemma 4 drafter (expected gemma4-assistant)");
  const std::string p = std::string(kArch) + ".";
  DrafterConfig d;
  d.text = config_from_gguf(f);
  d.text.model_type = std::string(kArch) + " (gguf)";
  d.text.final_logit_softcap = 0.0f;
  for (LayerPlan& l : d.text.layers) l.kv_source = -1;
  if (d.text.has_ple() || d.text.is_moe()) throw Error("'" + f.path() + "': a drafter has no per-layer embeddings or experts");
  d.backbone_hidden = int(f.get_u32(p + "embedding_length_out"));
  const GgufTensor* centroids = f.find_tensor("masked_embd_centroids.weight");
  const GgufTensor* ordering = f.find_tensor("masked_embd_ordering");
  if (centroids && ordering) {
    if (centroids->ne.size() != 2) throw Error("'" + f.path() + "': masked_embd_centroids.weight must be 2-D");
    d.ordered_embeddings = true;
    d.n_centroids = int(centroids->ne[1]);
    d.centroid_top_k = int(f.get_u32(p + "centroid_top_k", 32));
    if (d.n_centroids <= 0 || d.text.vocab_size % d.n_centroids != 0 || d.centroid_top_k < 1 || d.centroid_top_k > d.n_centroids)
      throw Error("'" + f.path() + "': " + std::to_string(d.n_centroids) + " centroids (top " + std::to_string(d.centroid_top_k) +
                  ") do not fit a vocabulary of " + std::to_string(d.text.vocab_size));
  }
  return d;
}

namespace {

std::vector<int32_t> ordering_of(const GgufFile& f, const DrafterConfig& d) {
  if (!d.ordered_embeddings) return {};
  const GgufTensor* t = f.find_tensor("masked_embd_ordering");
  if (t->ggml_type != kGgmlI32 || t->numel() != d.text.vocab_size)
    throw Error("'" + f.path() + "': masked_embd_ordering must be I32 with one entry per vocabulary token (" +
                std::to_string(d.text.vocab_size) + "), not " + t->type_name() + " " + t->shape_str());
  std::vector<int32_t> out(static_cast<size_t>(t->numel()));
  std::memcpy(out.data(), t->data, out.size() * 4);
  return out;
}

}  // namespace

DrafterConfig read_gguf_drafter_config(const std::string& path) { return drafter_config_from_gguf(*GgufFile::open(path)); }

std::unique_ptr<Drafter> load_gguf_drafter(const std::string& path) {
  std::shared_ptr<const GgufFile> file = GgufFile::open(path, default_load_mode());
  DrafterConfig config = drafter_config_from_gguf(*file);
  std::vector<int32_t> ordering = ordering_of(*file, config);
  std::shared_ptr<WeightSource> source = open_gguf_weights(file);
  return std::make_unique<Drafter>(std::move(config), std::move(source), std::move(ordering));
}

}  // namespace g4

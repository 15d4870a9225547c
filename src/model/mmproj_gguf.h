#pragma once
// llama.cpp's multimodal projector GGUF ("mmproj", general.architecture = "clip") for Gemma 4, in the
// layout its converter (convert_hf_to_gguf.py, Gemma4VisionAudioModel) writes:
//
//   v.patch_embd.weight       input_proj as a conv kernel [hidden, 3, p, p] (F32, or F16)
//   v.position_embd.weight    position table [2, positions, hidden] (F32)
//   v.blk.N.{attn_q,attn_k,attn_v,attn_out,ffn_gate,ffn_up,ffn_down}.weight (+ .input_min/.input_max/
//            .output_min/.output_max [1] when the linears are clipped)
//   v.blk.N.{attn_q_norm,attn_k_norm,ln1 (input),ln2 (pre-FFN),attn_post_norm,ffn_post_norm}.weight
//   v.std_bias, v.std_scale   (26B/31B)
//   mm.input_projection.weight embed_vision [text hidden, hidden]
//   metadata clip.has_vision_encoder, clip.vision.projector_type = gemma4v, clip.vision.{embedding_length,
//            feed_forward_length, block_count, attention.head_count, patch_size, projection_dim, …}
//
// The audio tower's tensors ("a.*", projector type gemma4a) belong to model/audio_tower.h. This file reads
// the layout; convert/mmproj_writer.h writes it (write_mmproj_gguf).
#include <memory>
#include <string>

#include "model/weight_source.h"

namespace g4 {

class GgufFile;

// The Hugging Face name (without "model.") of a projector tensor, or "" when it is not a vision tensor.
std::string hf_name_for_clip_vision(const std::string& gguf_name);
// The projector name of a Hugging Face vision tensor (without "model."), or "" when it has none.
std::string clip_name_for_hf_vision(const std::string& hf_name);

// The tensors of a projector GGUF under their Hugging Face names and shapes (the patch kernel is
// permuted back to input_proj's (row, column, channel) order, in f32).
std::unique_ptr<WeightSource> open_mmproj_weights(std::shared_ptr<const GgufFile> file);

}  // namespace g4

#include "convert/quant_mix.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/error.h"
#include "formats/gguf.h"

namespace g4 {

namespace {

// The mix's default type and llama's file type id (llama.h's LLAMA_FTYPE_MOSTLY_*).
struct MixInfo {
  const char* name;
  WType base;
  uint32_t ftype;
};

MixInfo mix_info(QuantMix m) {
  switch (m) {
    case QuantMix::Q4_K_M: return {"Q4_K_M", WType::Q4_K, 15};
    case QuantMix::Q5_K_M: return {"Q5_K_M", WType::Q5_K, 17};
    case QuantMix::Q6_K: return {"Q6_K", WType::Q6_K, 18};
    case QuantMix::Q3_K_M: return {"Q3_K_M", WType::Q3_K, 12};
    case QuantMix::IQ4_XS: return {"IQ4_XS", WType::IQ4_XS, 30};
    case QuantMix::IQ4_NL: return {"IQ4_NL", WType::IQ4_NL, 25};
    case QuantMix::IQ3_M: return {"IQ3_M", WType::IQ3_S, 27};
  }
  return {"?", WType::Q4_K, 0};
}

enum class Role { Output, TokenEmbd, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

// llama-quant.cpp's tensor_get_category.
Role role_of(const std::string& n) {
  if (n == "output.weight") return Role::Output;
  if (n == "token_embd.weight" || n == "per_layer_token_embd.weight") return Role::TokenEmbd;
  if (n.find("attn_v.weight") != std::string::npos) return Role::AttnV;
  if (n.find("attn_k.weight") != std::string::npos) return Role::AttnK;
  if (n.find("attn_q.weight") != std::string::npos) return Role::AttnQ;
  if (n.find("attn_output.weight") != std::string::npos) return Role::AttnOutput;
  if (n.find("ffn_up") != std::string::npos) return Role::FfnUp;
  if (n.find("ffn_gate") != std::string::npos) return Role::FfnGate;
  if (n.find("ffn_down") != std::string::npos) return Role::FfnDown;
  return Role::Other;
}

// llama-quant.cpp's use_more_bits: the first and last eighth of the layers and every third between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// What the choice depends on besides the tensor.
struct MixState {
  QuantMix mix;
  int n_layers = 0, n_gqa = 1, n_expert = 0;
  int n_attention_wv = 0, i_attention_wv = 0, i_ffn_down = 0;
  bool tied_embeddings = true;
};

std::string layer_str(int i, int n) { return "layer " + std::to_string(i) + " of " + std::to_string(n); }

// The layer of the next ffn_down tensor: its place among them, or with experts its name's.
int ffn_down_layer(MixState& s, const GgufTensor& t) {
  int i = s.i_ffn_down++;
  if (s.n_expert > 1 && std::sscanf(t.name.c_str(), "blk.%d.", &i) != 1)
    throw Error("quantize: cannot find the layer of tensor '" + t.name + "'");
  return i;
}

// The IQ3_M rules below the output and the token embedding (base type IQ3_S).
TensorTypeChoice choose_iq3_m(MixState& s, const GgufTensor& t, Role role) {
  const uint32_t base = uint32_t(WType::IQ3_S);
  if (role == Role::AttnV) {
    ++s.i_attention_wv;
    return {uint32_t(WType::Q4_K), "attn_v -> Q4_K"};
  }
  if (role == Role::FfnDown) {
    const int i = ffn_down_layer(s, t), n = s.n_layers;
    if (i < n / 8) return {uint32_t(WType::Q4_K), "ffn_down: " + layer_str(i, n) + " < n/8 -> Q4_K"};
    if (s.n_expert == 8 && use_more_bits(i, n))
      return {uint32_t(WType::Q4_K), "ffn_down: 8 experts, use_more_bits(" + layer_str(i, n) + ") -> Q4_K"};
    return {base, "ffn_down: default"};
  }
  if (role == Role::AttnOutput) {
    if (s.n_expert == 8) return {uint32_t(WType::Q5_K), "attn_output: 8 experts -> Q5_K"};
    return {uint32_t(WType::Q4_K), "attn_output -> Q4_K"};
  }
  return {base, "default"};
}

// llama_tensor_get_type_impl for the mixes here (no importance matrix, not Falcon, not a 70B).
TensorTypeChoice choose(MixState& s, const GgufTensor& t) {
  const WType base = mix_info(s.mix).base;
  const Role role = role_of(t.name);
  const bool km = s.mix == QuantMix::Q4_K_M || s.mix == QuantMix::Q5_K_M;
  const bool iq4 = s.mix == QuantMix::IQ4_XS || s.mix == QuantMix::IQ4_NL;
  if (role == Role::Output || (s.tied_embeddings && role == Role::TokenEmbd)) {
    const int64_t qk = wtype_info(base).block_elems;
    if (t.ne[0] % qk != 0) return {uint32_t(WType::Q8_0), "output: width not a multiple of the block -> Q8_0"};
    return {uint32_t(WType::Q6_K), role == Role::Output ? "output -> Q6_K" : "tied token embedding (the output) -> Q6_K"};
  }
  if (role == Role::TokenEmbd) return {uint32_t(base), "token embedding: default"};
  if (s.mix == QuantMix::IQ3_M) return choose_iq3_m(s, t, role);
  if (role == Role::AttnV) {
    const int i = s.i_attention_wv++;
    if (s.mix == QuantMix::Q3_K_M)
      return i < 2 ? TensorTypeChoice{uint32_t(WType::Q5_K), "attn_v: first two -> Q5_K"}
                   : TensorTypeChoice{uint32_t(WType::Q4_K), "attn_v -> Q4_K"};
    if (iq4 && s.n_gqa >= 4) return {uint32_t(WType::Q5_K), "attn_v: n_gqa " + std::to_string(s.n_gqa) + " >= 4 -> Q5_K"};
    if (km && use_more_bits(i, s.n_attention_wv))
      return {uint32_t(WType::Q6_K), "attn_v: use_more_bits(" + layer_str(i, s.n_attention_wv) + ") -> Q6_K"};
    return {uint32_t(base), "attn_v: default"};
  }
  if (role == Role::FfnDown) {
    const int i = ffn_down_layer(s, t), n = s.n_layers;
    if (s.mix == QuantMix::Q3_K_M)
      return i < n / 16 ? TensorTypeChoice{uint32_t(WType::Q5_K), "ffn_down: " + layer_str(i, n) + " < n/16 -> Q5_K"}
                        : TensorTypeChoice{uint32_t(WType::Q4_K), "ffn_down -> Q4_K"};
    if (s.mix == QuantMix::Q4_K_M && use_more_bits(i, n))
      return {uint32_t(WType::Q6_K), "ffn_down: use_more_bits(" + layer_str(i, n) + ") -> Q6_K"};
    if (iq4 && i < n / 8) return {uint32_t(WType::Q5_K), "ffn_down: " + layer_str(i, n) + " < n/8 -> Q5_K"};
    if (s.mix == QuantMix::Q5_K_M && use_more_bits(i, n))
      return {uint32_t(WType::Q6_K), "ffn_down: use_more_bits(" + layer_str(i, n) + ") -> Q6_K"};
    return {uint32_t(base), "ffn_down: default"};
  }
  if (role == Role::AttnOutput) {
    if (s.n_expert == 8 && (s.mix != QuantMix::Q5_K_M && s.mix != QuantMix::Q6_K))
      return {uint32_t(WType::Q5_K), "attn_output: 8 experts -> Q5_K"};
    if (s.n_expert != 8 && s.mix == QuantMix::Q3_K_M) return {uint32_t(WType::Q4_K), "attn_output -> Q4_K"};
    return {uint32_t(base), "attn_output: default"};
  }
  return {uint32_t(base), "default"};
}

// llama-quant.cpp's tensor_type_fallback: rows that are not a whole number of blocks.
TensorTypeChoice fallback(TensorTypeChoice c, int64_t ne0) {
  const WType t = WType(c.type);
  if (ne0 % wtype_info(t).block_elems == 0) return c;
  WType f = t;
  switch (t) {
    case WType::IQ4_XS: case WType::IQ3_S: case WType::IQ3_XXS: case WType::IQ2_XXS: case WType::IQ2_XS:
    case WType::IQ2_S: case WType::IQ1_S: case WType::IQ1_M:
      f = WType::IQ4_NL;
      break;
    case WType::Q2_K: case WType::Q3_K: f = WType::Q4_0; break;
    case WType::Q4_K: f = WType::Q5_0; break;
    case WType::Q5_K: f = WType::Q5_1; break;
    case WType::Q6_K: f = WType::Q8_0; break;
    default: break;
  }
  if (ne0 % wtype_info(f).block_elems != 0) f = WType::F16;
  c.rule += std::string("; width ") + std::to_string(ne0) + " not a multiple of " + wtype_info(t).name + "'s block -> " +
            wtype_info(f).name;
  c.type = uint32_t(f);
  return c;
}

}  // namespace

std::optional<QuantMix> parse_quant_mix(const std::string& name) {
  std::string s;
  for (char c : name) s += char(std::toupper(static_cast<unsigned char>(c)));
  for (QuantMix m : {QuantMix::Q4_K_M, QuantMix::Q5_K_M, QuantMix::Q6_K, QuantMix::Q3_K_M, QuantMix::IQ4_XS,
                     QuantMix::IQ4_NL, QuantMix::IQ3_M})
    if (s == mix_info(m).name) return m;
  return std::nullopt;
}

const char* quant_mix_name(QuantMix m) { return mix_info(m).name; }

WriteReport quantize_gguf_mix(const std::string& in, const std::string& out, QuantMix m, bool progress) {
  MixState s;
  s.mix = m;
  {
    auto f = GgufFile::open(in);
    const std::string arch = f->get_string("general.architecture");
    s.n_layers = int(f->get_u32(arch + ".block_count"));
    s.n_expert = int(f->get_u32(arch + ".expert_count", 0));
    // n_gqa of layer 0, as llama.cpp's hparams.n_gqa().
    const int heads = int(f->get_u32(arch + ".attention.head_count"));
    int kv = heads;
    const std::string kv_key = arch + ".attention.head_count_kv";
    if (const GgufValue* v = f->find(kv_key)) kv = int(v->is_array() ? f->get_array_ints(kv_key).at(0) : f->get_i64(kv_key));
    s.n_gqa = kv > 0 ? heads / kv : 1;
    for (const GgufTensor& t : f->tensors()) {
      if (role_of(t.name) == Role::AttnV) ++s.n_attention_wv;
      if (t.name == "output.weight") s.tied_embeddings = false;
    }
  }
  return quantize_gguf(in, out, mix_info(m).ftype, [&](const GgufTensor& t) { return fallback(choose(s, t), t.ne[0]); },
                       progress);
}

}  // namespace g4

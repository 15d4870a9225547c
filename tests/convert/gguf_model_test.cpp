// GGUF files in llama.cpp's layout: every text fixture converted to GGUF (F32 and BF16) gives the same
// prompt logits as the Hugging Face folder; the config read back from GGUF metadata equals the one from
// config.json; a file written by the peer's own writer (mkgguf_gemma4.py) loads and runs; quantize
// round trips; broken files give clear errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "convert/convert.h"
#include "model/gguf_config.h"
#include "model/model.h"
#include "quant/kernels.h"
#include "test_util.h"

namespace g4 {
namespace {

class TempDir {
 public:
  TempDir() {
    path_ = "/tmp/g4-gguf-test-" + std::to_string(getpid()) + "-" + std::to_string(counter_++);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

std::string vocab_path() { return test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf"; }

std::vector<int32_t> reference_ids(const std::string& dir) {
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::vector<int32_t> ids;
  for (int64_t v : tensor_to_i64(*ref->find("input_ids"))) ids.push_back(int32_t(v));
  return ids;
}

std::vector<float> reference_logits(const std::string& dir) {
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  return tensor_to_f32(*ref->find("logits"));
}

std::vector<float> prompt_logits(const Model& model, const std::vector<int32_t>& ids) {
  auto cache = model.new_cache(int64_t(ids.size()), 512, KVType::F32);  // exact comparisons
  return model.prefill(*cache, ids, true);
}

void convert(const std::string& fixture, const std::string& out, WType type) {
  ConvertOptions o;
  o.model_dir = test::fixture(fixture);
  o.out = out;
  o.vocab = vocab_path();
  o.type = type;
  o.progress = false;
  convert_hf_to_gguf(o);
}

void expect_same_config(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_FLOAT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_FLOAT_EQ(a.final_logit_softcap, b.final_logit_softcap);
  EXPECT_FLOAT_EQ(a.attention_scale, b.attention_scale);
  EXPECT_EQ(a.ple_dim, b.ple_dim);
  EXPECT_EQ(a.n_kv_shared_layers, b.n_kv_shared_layers);
  EXPECT_EQ(a.n_experts, b.n_experts);
  EXPECT_EQ(a.top_k_experts, b.top_k_experts);
  EXPECT_EQ(a.moe_intermediate_size, b.moe_intermediate_size);
  EXPECT_EQ(a.rope_full.type, b.rope_full.type);
  EXPECT_DOUBLE_EQ(a.rope_full.theta, b.rope_full.theta);
  EXPECT_DOUBLE_EQ(a.rope_full.factor, b.rope_full.factor);
  EXPECT_DOUBLE_EQ(a.rope_sliding.theta, b.rope_sliding.theta);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    EXPECT_EQ(a.layers[i].type, b.layers[i].type);
    EXPECT_EQ(a.layers[i].head_dim, b.layers[i].head_dim);
    EXPECT_EQ(a.layers[i].n_kv_heads, b.layers[i].n_kv_heads);
    EXPECT_EQ(a.layers[i].k_eq_v, b.layers[i].k_eq_v);
    EXPECT_EQ(a.layers[i].kv_source, b.layers[i].kv_source);
    EXPECT_EQ(a.layers[i].ffn_dim, b.layers[i].ffn_dim);
    EXPECT_EQ(a.layers[i].moe, b.layers[i].moe);
  }
  // Proportional RoPE: the same number of rotating pairs.
  for (size_t i = 0; i < a.layers.size(); ++i)
    EXPECT_EQ(Rope(a.rope(a.layers[i].type), a.layers[i].head_dim).rotated_pairs(),
              Rope(b.rope(b.layers[i].type), b.layers[i].head_dim).rotated_pairs()) << "layer " << i;
}

class GgufFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufFixtureTest, ConvertedF32AndBF16MatchTheHuggingFaceFolder) {
  const std::string dir = test::fixture(GetParam());
  TempDir tmp;
  const std::vector<int32_t> ids = reference_ids(dir);
  auto hf = load_model(dir);
  const std::vector<float> want = prompt_logits(*hf, ids);
  for (WType type : {WType::F32, WType::BF16}) {
    SCOPED_TRACE(wtype_info(type).name);
    const std::string path = tmp.file(GetParam() + ".gguf");
    convert(GetParam(), path, type);
    auto gg = load_model(path);
    expect_same_config(gg->config(), hf->config());
    const std::vector<float> got = prompt_logits(*gg, ids);
    const double e = test::rel_error(got, want);
    const double e_ref = test::rel_error(got, reference_logits(dir));
    std::printf("[%s %s] GGUF vs HF-folder logits rel %.3g, vs transformers reference %.3g\n", GetParam().c_str(),
                wtype_info(type).name, e, e_ref);
    EXPECT_LE(e, 1e-5);  // the fixtures' weights are bf16 values: F32 and BF16 files are both exact
    EXPECT_LE(e_ref, 1e-4);
  }
}

TEST_P(GgufFixtureTest, FileFollowsLlamaCppLayout) {
  TempDir tmp;
  const std::string path = tmp.file("m.gguf");
  convert(GetParam(), path, WType::BF16);
  auto f = GgufFile::open(path);
  const std::string arch = f->get_string("general.architecture");
  auto hf = load_model(test::fixture(GetParam()));
  const ModelConfig& c = hf->config();
  EXPECT_EQ(arch, c.family == Family::Gemma4 ? "gemma4" : "gemma3");
  EXPECT_EQ(f->get_u32(arch + ".block_count"), uint32_t(c.n_layers));
  EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gemma4");
  EXPECT_EQ(f->get_array_strings("tokenizer.ggml.tokens").size(), size_t(c.vocab_size));
  // ggml order: ne[0] is the input dimension.
  const GgufTensor* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne, (std::vector<int64_t>{c.hidden_size, c.vocab_size}));
  EXPECT_EQ(emb->ggml_type, 30u);
  const GgufTensor* norm = f->find_tensor("blk.0.attn_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->ggml_type, 0u);  // 1-D tensors are F32
  EXPECT_EQ(f->find_tensor("output.weight"), nullptr);  // tied
  for (int i = 0; i < c.n_layers; ++i) {
    const LayerPlan& p = c.layers[size_t(i)];
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(f->find_tensor(b + "attn_k.weight") != nullptr, !p.shares_kv(i)) << b;
    EXPECT_EQ(f->find_tensor(b + "attn_v.weight") != nullptr, !p.shares_kv(i) && !p.k_eq_v) << b;
  }
  if (c.family == Family::Gemma4) {
    const GgufTensor* rf = f->find_tensor("rope_freqs.weight");
    ASSERT_NE(rf, nullptr);
    EXPECT_EQ(f->get_array_ints("gemma4.attention.sliding_window_pattern").size(), size_t(c.n_layers));
    EXPECT_NE(f->find_tensor("blk.0.layer_output_scale.weight"), nullptr);
  } else {
    // Gemma 3 norms are stored as 1 + w.
    auto src = open_hf_weights(test::fixture(GetParam()));
    const SourceTensor* w = src->find("layers.0.input_layernorm.weight");
    ASSERT_NE(w, nullptr);
    Weight hw{w->data, w->type, 1, w->shape[0]};
    std::vector<float> hv(size_t(w->shape[0])), gv(size_t(w->shape[0]));
    dequantize_row(hw, 0, hv.data());
    std::memcpy(gv.data(), norm->data, gv.size() * 4);
    for (size_t k = 0; k < hv.size(); ++k) EXPECT_FLOAT_EQ(gv[k], hv[k] + 1.0f);
  }
  if (c.is_moe()) {
    EXPECT_NE(f->find_tensor("blk.0.ffn_gate_up_exps.weight"), nullptr);
    const GgufTensor* s = f->find_tensor("blk.0.ffn_down_exps.scale");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->ne, (std::vector<int64_t>{c.n_experts}));
    EXPECT_EQ(f->find_tensor("blk.0.ffn_gate_inp.weight")->ggml_type, 0u);  // router stays F32
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufFixtureTest, ::testing::Values("g4-e2b", "g4-e4b", "g4-26b-a4b", "g4-31b", "g3-27b"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });

// A file written by the peer's own writer (../shared/peer/mkgguf_gemma4.py, the layout llama.cpp loads):
// PLE, KV sharing, double-wide MLP, per-layer KV heads, rope_freqs, Q8_0 and Q4_0 tensors.
TEST(GgufPeerLayout, ReadsFilesWrittenByMkggufGemma4) {
  if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "python3 not available";
  TempDir tmp;
  // A 512-token vocabulary (tokenizer metadata of a converted fixture) keeps the file small.
  const std::string small_vocab = tmp.file("vocab512.gguf");
  convert("g4-31b", small_vocab, WType::BF16);
  for (const char* wtype : {"q8_0", "q4_0"}) {
    SCOPED_TRACE(wtype);
    const std::string path = tmp.file(std::string("peer-") + wtype + ".gguf");
    const std::string cmd = "python3 " + test::shared_dir() + "/peer/mkgguf_gemma4.py --vocab " + small_vocab + " --out " + path +
                            " --n-layer 6 --n-embd 64 --n-ff 128 --n-head 2 --n-head-kv-swa 2 --n-head-kv-full 1"
                            " --head-dim-swa 32 --head-dim-full 64 --swa-window 8 --swa-period 4 --n-embd-per-layer 32"
                            " --shared-kv-layers 2 --double-wide-mlp --wtype " + wtype + " > /dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto model = load_model(path);
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.family, Family::Gemma4);
    EXPECT_EQ(c.n_layers, 6);
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.ple_dim, 32);
    EXPECT_EQ(c.ple_vocab, 512);
    EXPECT_EQ(c.n_kv_shared_layers, 2);
    EXPECT_EQ(c.sliding_window, 8);
    EXPECT_FLOAT_EQ(c.final_logit_softcap, 30.0f);
    EXPECT_EQ(c.rope_full.type, "proportional");  // rope_freqs all 1.0: every pair rotates
    EXPECT_EQ(Rope(c.rope_full, 64).rotated_pairs(), 32);
    const int want_types[6] = {0, 0, 0, 1, 0, 0};  // full at layer 3 (period 4)
    for (int i = 0; i < 6; ++i) {
      SCOPED_TRACE("layer " + std::to_string(i));
      const LayerPlan& p = c.layers[size_t(i)];
      EXPECT_EQ(int(p.type == LayerType::Full), want_types[i]);
      EXPECT_EQ(p.head_dim, want_types[i] ? 64 : 32);
      EXPECT_EQ(p.n_kv_heads, want_types[i] ? 1 : 2);
      EXPECT_EQ(p.ffn_dim, i >= 4 ? 256 : 128);
      EXPECT_FALSE(p.k_eq_v);
    }
    EXPECT_EQ(c.layers[4].kv_source, 2);  // sliding shared layer -> last non-shared sliding layer
    EXPECT_EQ(c.layers[5].kv_source, 2);
    EXPECT_EQ(c.layers[3].kv_source, 3);
    EXPECT_EQ(c.bos_id, 2);
    EXPECT_FALSE(c.eog_ids.empty());
    std::vector<int32_t> ids = {2, 100, 200, 300, 400, 500, 60, 70, 80, 90, 110, 511};
    std::vector<float> logits = prompt_logits(*model, ids);
    ASSERT_EQ(logits.size(), ids.size() * 512u);
    for (float v : logits) ASSERT_TRUE(std::isfinite(v));
    // Re-quantizing to F32 keeps every value: with the f32 reference kernels (no activation
    // quantization) the logits are unchanged.
    const std::string f32 = tmp.file("peer-f32.gguf");
    quantize_gguf(path, f32, WType::F32, false);
    kernels::force_isa(kernels::Isa::Scalar);
    const std::vector<float> a = prompt_logits(*model, ids), b = prompt_logits(*load_model(f32), ids);
    kernels::clear_forced_isa();
    EXPECT_LE(test::rel_error(b, a), 1e-5);
  }
}

TEST(GgufTensorNames, MapBothWays) {
  const char* pairs[][2] = {
      {"embed_tokens.weight", "token_embd.weight"},
      {"norm.weight", "output_norm.weight"},
      {"layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
      {"layers.12.post_feedforward_layernorm.weight", "blk.12.post_ffw_norm.weight"},
      {"layers.3.layer_scalar", "blk.3.layer_output_scale.weight"},
      {"layers.1.router.per_expert_scale", "blk.1.ffn_down_exps.scale"},
      {"layers.1.router.scale", "blk.1.ffn_gate_inp.scale"},
      {"layers.1.experts.gate_up_proj", "blk.1.ffn_gate_up_exps.weight"},
      {"layers.1.experts.down_proj", "blk.1.ffn_down_exps.weight"},
      {"layers.2.per_layer_input_gate.weight", "blk.2.inp_gate.weight"},
      {"embed_tokens_per_layer.weight", "per_layer_token_embd.weight"},
  };
  for (auto& p : pairs) {
    EXPECT_EQ(gguf_name_for_hf(p[0]), p[1]);
    EXPECT_EQ(hf_name_for_gguf(p[1]), p[0]);
  }
  EXPECT_EQ(hf_name_for_gguf("rope_freqs.weight"), "");
  EXPECT_EQ(hf_name_for_gguf("blk.x.attn_q.weight"), "");
}

TEST(GgufErrors, ClearMessages) {
  TempDir tmp;
  // Unsupported architecture.
  {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.write(tmp.file("llama.gguf"));
    try {
      load_model(tmp.file("llama.gguf"));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("architecture 'llama' is not supported"), std::string::npos) << e.what();
    }
  }
  // A vocabulary-only file: no token_embd.
  try {
    load_model(vocab_path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("token_embd.weight"), std::string::npos) << e.what();
  }
  // A missing tensor names the tensor.
  {
    const std::string path = tmp.file("m.gguf");
    convert("g4-31b", path, WType::F32);
    auto f = GgufFile::open(path);
    GgufWriter w;
    w.copy_metadata(*f);
    for (const GgufTensor& t : f->tensors())
      if (t.name != "blk.2.attn_q.weight") w.add_tensor(t.name, t.ggml_type, t.ne, t.data, t.nbytes);
    w.write(tmp.file("broken.gguf"));
    try {
      load_model(tmp.file("broken.gguf"));
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("layers.2.self_attn.q_proj.weight"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace g4

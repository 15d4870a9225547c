// Accuracy of quantized GGUF files: each text fixture is converted to an F32 GGUF, re-quantized with
// `quantize_gguf` (llama-quantize's rules) to Q8_0, Q4_0, Q4_K, Q5_K and Q6_K (and on a random model to
// every type quantize_row writes; the read-only grid types run from random blocks), and its prompt logits are
// compared with the float32 transformers reference: mean KL(ref || quant) per position and top-1
// agreement. The fixtures are 64/96 wide, so the 256-block K-quants fall back (Q8_0 here, F16 below 32);
// a random-weight model whose widths are multiples of 256 measures the K-quants themselves.
// Q8_0 must agree on the top-1 token for >= 95 % of the positions on the 256-wide model. The tiny
// random-weight fixtures amplify any weight rounding chaotically (llama.cpp itself reaches only 38-92 %
// top-1 on the same Q8_0 files, see bench/llamacpp_logits.mjs), so there the test checks ordering and
// sanity bounds, and prints the table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/drift.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "convert/convert.h"
#include "model/model.h"
#include "quant/block_data.h"
#include "quant/kernels.h"
#include "test_util.h"

namespace g4 {
namespace {

Drift compare(const std::vector<float>& ref, const std::vector<float>& got, size_t V) {
  return distribution_drift(got.data(), ref.data(), ref.size() / V, V);
}

class TempDir {
 public:
  TempDir() {
    path_ = "/tmp/g4-quant-acc-" + std::to_string(getpid());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

const WType kTypes[] = {WType::Q8_0, WType::Q4_0, WType::Q4_K, WType::Q5_K, WType::Q6_K};

std::string fallback_summary(const WriteReport& r) {
  if (r.fallbacks.empty()) return "none";
  std::map<std::string, std::set<std::string>> by_kind;  // "Q4_K -> Q8_0" -> {ne0 values}
  for (const std::string& f : r.fallbacks) {
    size_t c = f.find(": "), p = f.find(" (ne0 ");
    std::string kind = f.substr(c + 2, p - c - 2);
    by_kind[kind].insert(f.substr(p + 6, f.size() - p - 7));
  }
  std::string s = std::to_string(r.fallbacks.size()) + " tensors:";
  for (auto& [kind, widths] : by_kind) {
    s += " " + kind + " (ne0";
    for (const auto& w : widths) s += " " + w;
    s += ")";
  }
  return s;
}

TEST(QuantAccuracy, FixturesAgainstTheFloat32Reference) {
  if (std::getenv("G4_TEST_SCALAR")) kernels::force_isa(kernels::Isa::Scalar);
  TempDir tmp;
  const std::vector<std::string> fixtures = {"g4-e2b", "g4-e4b", "g4-26b-a4b", "g4-31b", "g3-27b"};
  std::map<std::string, std::map<std::string, Drift>> table;
  for (const std::string& fx : fixtures) {
    const std::string dir = test::fixture(fx);
    auto ref_file = SafetensorsFile::open(dir + "/reference.safetensors");
    std::vector<int32_t> ids;
    for (int64_t v : tensor_to_i64(*ref_file->find("input_ids"))) ids.push_back(int32_t(v));
    const std::vector<float> ref = tensor_to_f32(*ref_file->find("logits"));
    ConvertOptions o;
    o.model_dir = dir;
    o.out = tmp.file(fx + "-f32.gguf");
    o.vocab = test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf";
    o.type = WType::F32;
    o.progress = false;
    convert_hf_to_gguf(o);
    for (WType t : kTypes) {
      const std::string q = tmp.file(fx + "-" + wtype_lower_name(t) + ".gguf");
      WriteReport rep = quantize_gguf(o.out, q, t, false);
      auto model = load_model(q);
      auto cache = model->new_cache(int64_t(ids.size()), 512, KVType::F32);
      std::vector<float> got = model->prefill(*cache, ids, true);
      Drift m = compare(ref, got, size_t(model->config().vocab_size));
      table[wtype_info(t).name][fx] = m;
      std::printf("[%s %s] KL %.3g  top-1 %.1f %%  fallbacks: %s\n", fx.c_str(), wtype_info(t).name, m.kl, 100 * m.top1,
                  fallback_summary(rep).c_str());
      if (t == WType::Q8_0) {
        // Sanity floors, not targets: prefill quantizes activations to 8 bits per 32 values as
        // llama.cpp does (its own Q8_0 on g4-26b-a4b: KL 0.275, top-1 38 %), and the 26b fixture's
        // top-8-of-128 routing flips on tiny perturbations.
        EXPECT_GE(m.top1, 0.2) << fx << " Q8_0 top-1 agreement";
        EXPECT_LT(m.kl, 0.3) << fx << " Q8_0 KL";
      }
    }
  }
  for (const auto& fx : fixtures)
    EXPECT_LT(table["Q8_0"][fx].kl, table["Q4_0"][fx].kl) << fx << ": Q8_0 should be closer to the reference than Q4_0";
  std::printf("\n%-6s", "type");
  for (const auto& fx : fixtures) std::printf(" | %-22s", fx.c_str());
  std::printf("\n");
  for (WType t : kTypes) {
    std::printf("%-6s", wtype_info(t).name);
    for (const auto& fx : fixtures) {
      const Drift& m = table[wtype_info(t).name][fx];
      std::printf(" | KL %8.2e top1 %5.1f%%", m.kl, 100 * m.top1);
    }
    std::printf("\n");
  }
}

// Widths that are multiples of 256, so every K-quant is used as such (no fallback).
TEST(QuantAccuracy, KQuantsOnA256WideRandomModel) {
  TempDir tmp;
  const std::string cfg = tmp.file("config.json");
  std::ofstream(cfg) << R"({"model_type": "gemma4_text", "vocab_size": 512, "hidden_size": 256, "num_hidden_layers": 4,
    "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128, "global_head_dim": 256, "intermediate_size": 512,
    "hidden_size_per_layer_input": 256, "vocab_size_per_layer_input": 512, "num_kv_shared_layers": 0,
    "sliding_window": 16, "final_logit_softcapping": 30.0,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]})";
  SynthOptions s;
  s.config_json = cfg;
  s.out = tmp.file("f32.gguf");
  s.vocab = test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf";
  s.type = WType::F32;
  s.progress = false;
  synth_gguf(s);
  std::vector<int32_t> ids;
  for (int i = 0; i < 48; ++i) ids.push_back(int32_t((i * 97 + 2) % 512));
  auto ref_model = load_model(s.out);
  auto c0 = ref_model->new_cache(int64_t(ids.size()), 512, KVType::F32);
  const std::vector<float> ref = ref_model->prefill(*c0, ids, true);
  std::vector<WType> types(std::begin(kTypes), std::end(kTypes));
  // The other types published files use that quantize_row writes (IQ2_XXS, IQ2_XS and IQ1_S, which need an
  // importance matrix: GridTypesLoadAndRun).
  for (WType t : {WType::Q4_1, WType::Q5_0, WType::Q5_1, WType::Q2_K, WType::Q3_K, WType::IQ4_NL, WType::IQ4_XS,
                  WType::MXFP4, WType::IQ3_XXS, WType::IQ3_S, WType::IQ2_S, WType::IQ1_M})
    types.push_back(t);
  for (WType t : types) {
    const std::string q = tmp.file(wtype_lower_name(t) + ".gguf");
    WriteReport rep = quantize_gguf(s.out, q, t, false);
    EXPECT_TRUE(rep.fallbacks.empty()) << rep.fallbacks.front();
    auto model = load_model(q);
    auto cache = model->new_cache(int64_t(ids.size()), 512, KVType::F32);
    Drift m = compare(ref, model->prefill(*cache, ids, true), 512);
    std::printf("[random 256-wide %s] KL %.3g  top-1 %.1f %%\n", wtype_info(t).name, m.kl, 100 * m.top1);
    // Q2_K: 2.6 bits per weight, IQ2_S 2.5, IQ3_XXS 3.06, IQ3_S 3.44, IQ1_M 1.75.
    const double kl_bound = t == WType::IQ1_M ? 2.0 : (t == WType::Q2_K || t == WType::IQ2_S) ? 1.0
                          : (t == WType::IQ3_XXS || t == WType::IQ3_S) ? 0.75 : 0.5;
    EXPECT_LT(m.kl, kl_bound) << wtype_info(t).name;
    if (t == WType::Q8_0) {
      EXPECT_GE(m.top1, 0.95) << "Q8_0 top-1 agreement";
    }
    if (t == WType::Q6_K) {
      EXPECT_LT(m.kl, 0.1);
    }
    if (t == WType::Q5_0 || t == WType::Q5_1) {
      EXPECT_LT(m.kl, 0.15) << wtype_info(t).name;  // 5 bits: between Q4 and Q6
    }
  }
}

// The grid i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M; the quantizers of those ggml
// writes without an importance matrix are compared with ggml's in quant_formats_test): files with random
// blocks of each load, run through the model, and give finite logits
// equal (up to summation order) to those of the same weights dequantized into an F32 file. (No logit
// soft-capping, which would saturate the random weights' logits and hide differences.) They have kernels
// of their own, and on AVX-512 machines their prefill takes the integer GEMMs with 8-bit activations (their
// products are checked against ggml's in matmul_kernels_test): there they are held to the error of those
// activations (about 1/254 of each value) instead.
TEST(QuantAccuracy, GridTypesLoadAndRun) {
  TempDir tmp;
  const std::string cfg = tmp.file("config.json");
  std::ofstream(cfg) << R"({"model_type": "gemma4_text", "vocab_size": 512, "hidden_size": 256, "num_hidden_layers": 2,
    "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128, "global_head_dim": 256, "intermediate_size": 512,
    "hidden_size_per_layer_input": 256, "vocab_size_per_layer_input": 512, "num_kv_shared_layers": 0,
    "sliding_window": 16, "final_logit_softcapping": 1e6, "layer_types": ["sliding_attention", "full_attention"]})";
  SynthOptions s;
  s.config_json = cfg;
  s.out = tmp.file("f32.gguf");
  s.vocab = test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf";
  s.type = WType::F32;
  s.progress = false;
  synth_gguf(s);
  auto src = GgufFile::open(s.out);
  std::vector<int32_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(int32_t((i * 97 + 2) % 512));
  for (WType t : {WType::IQ2_XXS, WType::IQ2_XS, WType::IQ2_S, WType::IQ3_XXS, WType::IQ3_S, WType::IQ1_S,
                  WType::IQ1_M}) {
    // The 2-D weights (all 256 wide) as random blocks of type t; the rest as they are. The same weights,
    // dequantized, make the F32 twin.
    GgufWriter wq, wf;
    wq.copy_metadata(*src);
    wf.copy_metadata(*src);
    uint64_t seed = 1;
    for (const GgufTensor& gt : src->tensors()) {
      const bool quant = gt.ne.size() == 2 && gt.name.find("_norm") == std::string::npos;
      if (!quant) {
        wq.add_tensor(gt.name, gt.ggml_type, gt.ne, gt.data, gt.nbytes);
        wf.add_tensor(gt.name, gt.ggml_type, gt.ne, gt.data, gt.nbytes);
        continue;
      }
      std::vector<uint8_t> blocks = test::random_blocks(t, gt.numel() / 256, seed++);
      std::vector<float> f(size_t(gt.numel()));
      dequantize_blocks(t, blocks.data(), f.data(), gt.numel());
      std::vector<uint8_t> fb(f.size() * 4);
      std::memcpy(fb.data(), f.data(), fb.size());
      wq.add_tensor(gt.name, uint32_t(t), gt.ne, std::move(blocks));
      wf.add_tensor(gt.name, 0, gt.ne, std::move(fb));
    }
    const std::string qpath = tmp.file(wtype_lower_name(t) + ".gguf"), fpath = tmp.file("twin.gguf");
    wq.write(qpath);
    wf.write(fpath);
    auto mq = load_model(qpath);
    auto mf = load_model(fpath);
    const auto run = [&](Model& m) {
      auto c = m.new_cache(int64_t(ids.size()), 512, KVType::F32);
      return m.prefill(*c, ids, true);
    };
    const std::vector<float> lf = run(*mf);
    // The best level's path (the integer GEMMs on AVX-512 machines), then the f32 tiles of dequantized rows
    // (AVX2's prefill path for these types) where the best level does not take them already.
    using kernels::Isa;
    std::vector<Isa> levels = {kernels::best_isa()};
    if (kernels::best_isa() != Isa::Avx2 && kernels::isa_supported(Isa::Avx2)) levels.push_back(Isa::Avx2);
    for (Isa isa : levels) {
      kernels::force_isa(isa);
      const kernels::MatmulPath path = kernels::matmul_path(t, ids.size());
      const std::vector<float> lq = run(*mq);
      kernels::clear_forced_isa();
      ASSERT_EQ(lq.size(), lf.size());
      double max_diff = 0, max_abs = 0;
      for (size_t i = 0; i < lq.size(); ++i) {
        ASSERT_TRUE(std::isfinite(lq[i])) << wtype_info(t).name << " logit " << i;
        max_diff = std::max(max_diff, double(std::fabs(lq[i] - lf[i])));
        max_abs = std::max(max_abs, double(std::fabs(lf[i])));
      }
      const Drift d = distribution_drift(lq.data(), lf.data(), ids.size(), 512);
      const std::string at = std::string(wtype_info(t).name) + " " + kernels::isa_name(isa) + " " + kernels::matmul_path_name(path);
      std::printf("[grid %s] max |logit - f32 twin| %.3g (max |logit| %.3g), KL %.3g, top-1 %.0f%%\n", at.c_str(), max_diff,
                  max_abs, d.kl, 100 * d.top1);
      if (path == kernels::MatmulPath::DequantTiles || path == kernels::MatmulPath::Scalar) {
        EXPECT_LT(max_diff, 1e-3 * max_abs + 1e-4) << at;  // the same f32 products, in another order
      } else {
        // 8-bit activations (about 1/254 of each value): judged as the quantized paths are, by how far the
        // next-token distributions move. These random models' logits span hundreds (no soft-capping), so
        // a difference of one in a near-tie moves KL by 1e-2; the kernels' products themselves are held to
        // summation-order tolerance of ggml's in matmul_kernels_test.
        EXPECT_LT(d.kl, 5e-2) << at;
        EXPECT_GE(d.top1, 11.0 / 12.0) << at;
      }
    }
  }
}

}  // namespace
}  // namespace g4

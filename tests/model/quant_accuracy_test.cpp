// Accuracy of quantized GGUF files: each text fixture is converted to an F32 GGUF, re-quantized with
// `quantize_gguf` (llama-quantize's rules) to Q8_0, Q4_0, Q4_K, Q5_K and Q6_K, and its prompt logits are
// compared with the float32 transformers reference: mean KL(ref || quant) per position and top-1
// agreement. The fixtures are 64/96 wide, so the 256-block K-quants fall back (Q8_0 here, F16 below 32);
// a random-weight model whose widths are multiples of 256 measures the K-quants themselves.
// Q8_0 must agree on the top-1 token for >= 95 % of the positions on the 256-wide model. The tiny
// random-weight fixtures amplify any weight rounding chaotically (llama.cpp itself reaches only 38-92 %
// top-1 on the same Q8_0 files, see bench/llamacpp_logits.mjs), so there the test checks ordering and
// sanity bounds, and prints the table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/drift.h"
#include "formats/safetensors.h"
#include "model/convert.h"
#include "model/model.h"
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
  for (WType t : kTypes) {
    const std::string q = tmp.file(wtype_lower_name(t) + ".gguf");
    WriteReport rep = quantize_gguf(s.out, q, t, false);
    EXPECT_TRUE(rep.fallbacks.empty()) << rep.fallbacks.front();
    auto model = load_model(q);
    auto cache = model->new_cache(int64_t(ids.size()), 512, KVType::F32);
    Drift m = compare(ref, model->prefill(*cache, ids, true), 512);
    std::printf("[random 256-wide %s] KL %.3g  top-1 %.1f %%\n", wtype_info(t).name, m.kl, 100 * m.top1);
    EXPECT_LT(m.kl, 0.5);
    if (t == WType::Q8_0) {
      EXPECT_GE(m.top1, 0.95) << "Q8_0 top-1 agreement";
    }
    if (t == WType::Q6_K) {
      EXPECT_LT(m.kl, 0.1);
    }
  }
}

}  // namespace
}  // namespace g4

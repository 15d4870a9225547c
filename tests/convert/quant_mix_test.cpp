// gemma4 quantize's llama-quantize mixes against llama.cpp itself: a small Gemma 4 (10 layers, 4 heads
// over 1 KV head, every width a multiple of 256) is written as F32, then quantized by quantize_gguf_mix and
// by llama.cpp's llama_model_quantize (libllama from node-llama-cpp's prebuilt package, installed with the
// test dependencies, see tests/quant/ggml_ref.h); both files must hold the same type for every tensor and
// the same bytes. The report names a rule for every quantized tensor.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "formats/gguf.h"
#include "convert/convert.h"
#include "convert/quant_mix.h"
#include "quant/ggml_ref.h"
#include "test_util.h"

namespace g4 {
namespace {

// llama.h's llama_model_quantize_params at the pinned version (node-llama-cpp 3.21.1).
struct LlamaQuantizeParams {
  int32_t nthread;
  int32_t ftype;
  int32_t output_tensor_type;
  int32_t token_embedding_type;
  bool allow_requantize, quantize_output_tensor, only_copy, pure, keep_split, dry_run;
  const void* imatrix;
  const void* kv_overrides;
  const void* tt_overrides;
  const int32_t* prune_layers;
  size_t max_buf_size;
};
static_assert(sizeof(LlamaQuantizeParams) == 64);

struct LlamaLib {
  void* h = nullptr;
  std::string error;
  LlamaLib() {
    std::string path = test::GgmlRef::default_path();
    path = path.substr(0, path.rfind('/')) + "/libllama.v0.4.0.so";
    h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) error = std::string("cannot open ") + path + ": " + dlerror() + " (run scripts/install-deps.sh)";
  }
  ~LlamaLib() {
    if (h) dlclose(h);
  }
  // llama_model_quantize(in, out, ftype) with llama-quantize's defaults; 0 on success.
  int quantize(const std::string& in, const std::string& out, uint32_t ftype) const {
    using Defaults = LlamaQuantizeParams (*)();
    using Quantize = uint32_t (*)(const char*, const char*, const LlamaQuantizeParams*);
    using Init = void (*)();
    using LogSet = void (*)(void (*)(int, const char*, void*), void*);
    if (auto log_set = LogSet(dlsym(h, "llama_log_set"))) log_set([](int, const char*, void*) {}, nullptr);
    if (auto init = Init(dlsym(h, "llama_backend_init"))) init();
    auto defaults = Defaults(dlsym(h, "llama_model_quantize_default_params"));
    auto quantize = Quantize(dlsym(h, "llama_model_quantize"));
    if (!defaults || !quantize) return -1;
    LlamaQuantizeParams p = defaults();
    p.ftype = int32_t(ftype);
    p.nthread = 2;
    return int(quantize(in.c_str(), out.c_str(), &p));
  }
};

TEST(QuantMix, SameTensorsAsLlamaQuantize) {
  const LlamaLib llama;
  ASSERT_NE(llama.h, nullptr) << llama.error;
  const std::string dir = "/tmp/g4-quant-mix-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/config.json") << R"({"model_type": "gemma4_text", "vocab_size": 512, "hidden_size": 256,
    "num_hidden_layers": 10, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 128, "global_head_dim": 256,
    "intermediate_size": 512, "hidden_size_per_layer_input": 256, "vocab_size_per_layer_input": 512,
    "num_kv_shared_layers": 0, "sliding_window": 16, "final_logit_softcapping": 30.0})";
  SynthOptions s;
  s.config_json = dir + "/config.json";
  s.out = dir + "/f32.gguf";
  s.vocab = test::shared_dir() + "/fixtures/tokenizer/gemma4-vocab.gguf";
  s.type = WType::F32;
  s.progress = false;
  synth_gguf(s);
  const std::pair<const char*, uint32_t> mixes[] = {{"q4_k_m", 15}, {"q5_k_m", 17}, {"q6_k", 18},
                                                    {"q3_k_m", 12}, {"iq4_xs", 30}, {"iq4_nl", 25},
                                                    {"iq3_m", 27}};
  for (const auto& [name, ftype] : mixes) {
    SCOPED_TRACE(name);
    const std::string ours = dir + "/ours.gguf", theirs = dir + "/theirs.gguf";
    const auto mix = parse_quant_mix(name);
    ASSERT_TRUE(mix.has_value());
    const WriteReport rep = quantize_gguf_mix(s.out, ours, *mix, false);
    ASSERT_EQ(llama.quantize(s.out, theirs, ftype), 0);
    auto a = GgufFile::open(ours), b = GgufFile::open(theirs);
    ASSERT_EQ(a->tensors().size(), b->tensors().size());
    EXPECT_EQ(a->get_u32("general.file_type"), b->get_u32("general.file_type"));
    std::map<uint32_t, int> types;
    size_t quantized = 0;
    for (const GgufTensor& ta : a->tensors()) {
      const GgufTensor* tb = b->find_tensor(ta.name);
      ASSERT_NE(tb, nullptr) << ta.name;
      ASSERT_EQ(ta.type_name(), tb->type_name()) << ta.name;
      ASSERT_EQ(ta.nbytes, tb->nbytes) << ta.name;
      ASSERT_EQ(std::memcmp(ta.data, tb->data, ta.nbytes), 0) << ta.name << " " << ta.type_name() << ": other bytes";
      ++types[ta.ggml_type];
      quantized += llamacpp_quantizes(ta.name, ta.ne) ? 1 : 0;
    }
    // F32 norms and at least two quantized types (Q6_K is one type throughout).
    EXPECT_GE(types.size(), std::string(name) == "q6_k" ? 2u : 3u) << "a mix of one type proves little";
    EXPECT_EQ(rep.rules.size(), quantized);
  }
  std::filesystem::remove_all(dir);
}

TEST(QuantMix, NamesAreParsed) {
  EXPECT_EQ(parse_quant_mix("Q4_K_M"), QuantMix::Q4_K_M);
  EXPECT_EQ(parse_quant_mix("iq4_xs"), QuantMix::IQ4_XS);
  EXPECT_FALSE(parse_quant_mix("q4_k").has_value());
  EXPECT_EQ(parse_quant_mix("IQ3_M"), QuantMix::IQ3_M);
  // IQ3_XXS and IQ3_S are one type throughout, not llama-quantize's mixes of those names; IQ3_XS (IQ3_XXS
  // tensors, which llama-quantize quantizes only with an importance matrix) is not a mix here.
  EXPECT_FALSE(parse_quant_mix("iq3_xxs").has_value());
  EXPECT_FALSE(parse_quant_mix("iq3_s").has_value());
  EXPECT_FALSE(parse_quant_mix("iq3_xs").has_value());
  EXPECT_EQ(parse_wtype("iq3_xxs"), WType::IQ3_XXS);
  EXPECT_EQ(parse_wtype("IQ1_M"), WType::IQ1_M);
  EXPECT_STREQ(quant_mix_name(QuantMix::Q3_K_M), "Q3_K_M");
  // convert and synth write one type: a mix name there is refused, pointing at quantize.
  try {
    parse_wtype("Q4_K_M");
    ADD_FAILURE() << "q4_k_m taken as one type";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gemma4 quantize --type q4_k_m"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace g4

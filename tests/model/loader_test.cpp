// Loading checkpoints: the released hub layout, sharded files, f16/f32 tensors, and clear errors for
// broken input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/safetensors.h"
#include "model/model.h"
#include "test_util.h"

namespace g4 {
namespace {

std::string temp_dir(const std::string& tag) {
  std::string d = "/tmp/g4test-" + tag + "-" + std::to_string(getpid());
  mkdir(d.c_str(), 0755);
  return d;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<int32_t> reference_ids(const std::string& dir) {
  auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
  std::vector<int32_t> ids;
  for (int64_t v : tensor_to_i64(*ref->find("input_ids"))) ids.push_back(int32_t(v));
  return ids;
}

std::vector<float> prompt_logits(const std::string& dir, const std::vector<int32_t>& ids) {
  auto model = load_model(dir);
  auto cache = model->new_cache(int64_t(ids.size()), 512, KVType::F32);  // exact comparisons
  return model->prefill(*cache, ids, true);
}

// Copies the fixture's tensors with a new name prefix and dtype conversion (to=F32/F16/BF16 or keep).
std::vector<TensorToWrite> retag(const std::string& dir, const std::string& from_prefix, const std::string& to_prefix,
                                 std::optional<DType> to = std::nullopt) {
  auto f = SafetensorsFile::open(dir + "/model.safetensors");
  std::vector<TensorToWrite> out;
  for (const auto& [name, t] : f->tensors()) {
    TensorToWrite w{to_prefix + name.substr(from_prefix.size()), t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)};
    if (to && *to != t.dtype) {
      std::vector<float> v = tensor_to_f32(t);
      w.dtype = *to;
      w.bytes.resize(v.size() * dtype_size(*to));
      for (size_t i = 0; i < v.size(); ++i) {
        if (*to == DType::F32) std::memcpy(w.bytes.data() + 4 * i, &v[i], 4);
        else { uint16_t h = *to == DType::F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]); std::memcpy(w.bytes.data() + 2 * i, &h, 2); }
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

// The released checkpoints: a gemma4 wrapper config with flat global_head_dim /
// num_global_key_value_heads in text_config, tensors under model.language_model., vision tensors too
// (a stray one here: without a vision_config the towers are not loaded and the text binder ignores it;
// complete towers are tested in vision_test against the -mm fixtures).
Json to_hub_config(const Json& text) {
  Json t = text;
  t["model_type"] = "gemma4_text";
  if (t.contains("per_layer_config")) {
    const Json overrides = t["per_layer_config"];  // a copy: inserting into t below moves its members
    for (const auto& [key, override_] : overrides.items()) {
      if (override_.contains("head_dim")) t["global_head_dim"] = override_["head_dim"];
      if (override_.contains("num_key_value_heads")) t["num_global_key_value_heads"] = override_["num_key_value_heads"];
    }
    t.erase("per_layer_config");
  }
  return Json{{"architectures", {"Gemma4ForConditionalGeneration"}}, {"model_type", "gemma4"}, {"text_config", t},
              {"image_token_id", 7}, {"eos_token_id", {1, 106}}};
}

class HubLayoutTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HubLayoutTest, HubLayoutGivesTheSameLogits) {
  const std::string src = test::fixture(GetParam());
  const std::string dst = temp_dir("hub-" + GetParam());
  Json cfg = parse_json(read_text_file(src + "/config.json"), "config");
  write_text(dst + "/config.json", to_hub_config(cfg).dump(2));
  auto tensors = retag(src, "model.", "model.language_model.");
  std::vector<float> vision(16, 0.5f);
  tensors.push_back(make_f32_tensor("model.vision_tower.patch_embedder.input_proj.weight", {4, 4}, vision.data()));
  write_safetensors(dst + "/model.safetensors", tensors);
  auto ids = reference_ids(src);
  std::vector<float> want = prompt_logits(src, ids), got = prompt_logits(dst, ids);
  EXPECT_LE(test::rel_error(got, want), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HubLayoutTest, ::testing::Values("g4-e2b", "g4-26b-a4b", "g4-31b"),
                         [](const auto& info) { std::string s = info.param; for (char& c : s) if (c == '-') c = '_'; return s; });

TEST(Loader, Gemma3WrapperConfig) {
  const std::string src = test::fixture("g3-27b");
  const std::string dst = temp_dir("g3wrap");
  Json text = parse_json(read_text_file(src + "/config.json"), "config");
  Json cfg{{"model_type", "gemma3"}, {"text_config", text}, {"architectures", {"Gemma3ForConditionalGeneration"}}};
  write_text(dst + "/config.json", cfg.dump());
  write_safetensors(dst + "/model.safetensors", retag(src, "model.", "model.language_model."));
  auto ids = reference_ids(src);
  EXPECT_LE(test::rel_error(prompt_logits(dst, ids), prompt_logits(src, ids)), 1e-6);
}

TEST(Loader, ShardedCheckpointWithIndex) {
  const std::string src = test::fixture("g4-e4b");
  const std::string dst = temp_dir("sharded");
  write_text(dst + "/config.json", read_text_file(src + "/config.json"));
  auto tensors = retag(src, "", "");
  std::vector<TensorToWrite> a, b;
  Json map = Json::object();
  for (size_t i = 0; i < tensors.size(); ++i) {
    bool first = i % 2 == 0;
    map[tensors[i].name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    (first ? a : b).push_back(tensors[i]);
  }
  write_safetensors(dst + "/model-00001-of-00002.safetensors", a);
  write_safetensors(dst + "/model-00002-of-00002.safetensors", b);
  write_text(dst + "/model.safetensors.index.json", Json{{"metadata", Json::object()}, {"weight_map", map}}.dump());
  auto ids = reference_ids(src);
  EXPECT_LE(test::rel_error(prompt_logits(dst, ids), prompt_logits(src, ids)), 1e-7);
}

TEST(Loader, F32AndF16Weights) {
  const std::string src = test::fixture("g4-31b");
  auto ids = reference_ids(src);
  std::vector<float> want = prompt_logits(src, ids);
  for (DType t : {DType::F32, DType::F16}) {
    const std::string dst = temp_dir(std::string("dtype-") + dtype_name(t));
    write_text(dst + "/config.json", read_text_file(src + "/config.json"));
    write_safetensors(dst + "/model.safetensors", retag(src, "", "", t));
    // bf16 values are exact in f32; in f16 they may round, so allow f16's precision there.
    EXPECT_LE(test::rel_error(prompt_logits(dst, ids), want), t == DType::F32 ? 1e-7 : 2e-2) << dtype_name(t);
  }
}

// Each broken checkpoint must fail with one g4::Error whose message names the problem.
void expect_load_error(const std::string& dir, const std::string& needle) {
  try {
    load_model(dir);
    ADD_FAILURE() << "loading " << dir << " should fail with '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(LoaderErrors, TruncatedSafetensors) {
  const std::string src = test::fixture("g4-e2b");
  std::string bytes = read_text_file(src + "/model.safetensors");
  for (size_t cut : {size_t(0), size_t(5), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    const std::string dst = temp_dir("trunc" + std::to_string(cut));
    write_text(dst + "/config.json", read_text_file(src + "/config.json"));
    write_text(dst + "/model.safetensors", bytes.substr(0, cut));
    expect_load_error(dst, "model.safetensors");
  }
}

TEST(LoaderErrors, MissingTensorIsNamed) {
  const std::string src = test::fixture("g4-e2b");
  const std::string dst = temp_dir("missing");
  write_text(dst + "/config.json", read_text_file(src + "/config.json"));
  auto tensors = retag(src, "", "");
  std::erase_if(tensors, [](const TensorToWrite& t) { return t.name == "model.layers.3.mlp.up_proj.weight"; });
  write_safetensors(dst + "/model.safetensors", tensors);
  expect_load_error(dst, "missing tensor 'layers.3.mlp.up_proj.weight'");
}

TEST(LoaderErrors, ShapeMismatchIsNamed) {
  const std::string src = test::fixture("g4-e2b");
  const std::string dst = temp_dir("shape");
  write_text(dst + "/config.json", read_text_file(src + "/config.json"));
  auto tensors = retag(src, "", "");
  for (auto& t : tensors)
    if (t.name == "model.layers.2.self_attn.q_proj.weight") t.shape = {32, 128};  // same bytes, wrong shape
  write_safetensors(dst + "/model.safetensors", tensors);
  expect_load_error(dst, "model.layers.2.self_attn.q_proj.weight' in '" + dst + "/model.safetensors' has shape [32, 128], expected [64, 64]");
}

TEST(LoaderErrors, UnknownModelType) {
  const std::string src = test::fixture("g4-e2b");
  const std::string dst = temp_dir("arch");
  Json cfg = parse_json(read_text_file(src + "/config.json"), "config");
  cfg["model_type"] = "llama";
  write_text(dst + "/config.json", cfg.dump());
  write_text(dst + "/model.safetensors", read_text_file(src + "/model.safetensors"));
  expect_load_error(dst, "unsupported model_type 'llama'");
}

TEST(LoaderErrors, MalformedConfigAndMissingFiles) {
  const std::string dst = temp_dir("badjson");
  write_text(dst + "/config.json", "{\"model_type\": \"gemma4_text\", ");
  expect_load_error(dst, "config.json: invalid JSON");
  expect_load_error("/nonexistent/model", "does not exist");
  const std::string empty = temp_dir("empty");
  expect_load_error(empty, "no config.json");
}

TEST(LoaderErrors, TokenIdOutOfRange) {
  auto model = load_model(test::fixture("g4-e2b"));
  auto cache = model->new_cache(8);
  EXPECT_THROW(model->prefill(*cache, {2, 512}), Error);
  auto small = model->new_cache(2);
  EXPECT_THROW(model->prefill(*small, {2, 3, 4}), Error);  // context full
}

}  // namespace
}  // namespace g4

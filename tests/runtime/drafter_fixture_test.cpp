// The Gemma 4 MTP drafters against Hugging Face transformers' own drafts (../shared/fixtures/hf/
// g4-e4b-assistant: ordered embeddings, KV-sharing target; g4-31b-assistant: plain tied head, K=V full
// layer with one KV head): target logits, the shared K/V the drafter reads, the target's final hidden
// state, the draft ids, logits and projected hidden states, through the library and the CLI; and the
// refusal of drafters that do not fit the target.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/thread_pool.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "model/drafter.h"
#include "runtime/speculative.h"
#include "test_util.h"

namespace g4 {
namespace {

// Tiny models: one thread is fastest, and keeps the suite quick on a busy machine.
[[maybe_unused]] const bool kOneThread = (ThreadPool::set_default_threads(1), true);

constexpr double kTolerance = 1e-4;

struct Reference {
  std::unique_ptr<SafetensorsFile> file;
  std::vector<float> f32(const std::string& name) const {
    const TensorInfo* t = file->find(name);
    if (!t) throw Error("reference lacks " + name);
    return tensor_to_f32(*t);
  }
  std::vector<int32_t> ids(const std::string& name) const {
    const TensorInfo* t = file->find(name);
    if (!t) throw Error("reference lacks " + name);
    std::vector<int32_t> out;
    for (int64_t v : tensor_to_i64(*t)) out.push_back(int32_t(v));
    return out;
  }
};

Reference load_reference(const std::string& dir) { return {SafetensorsFile::open(dir + "/reference.safetensors")}; }

class DrafterFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(DrafterFixture, LibraryMatchesTransformers) {
  const std::string dir = test::fixture(GetParam());
  Reference ref = load_reference(dir);
  const std::vector<int32_t> ids = ref.ids("input_ids");
  auto target = load_model(dir + "/target");
  auto drafter = load_drafter(dir + "/drafter");
  const Json meta = parse_json(read_text_file(dir + "/reference.json"), "reference.json");
  EXPECT_EQ(drafter->config().ordered_embeddings, meta["use_ordered_embeddings"].get<bool>());
  const int steps = meta["draft_steps"].get<int>();
  auto cache = target->new_cache(int64_t(ids.size()) + 1, 512, KVType::F32);
  DraftProcedure r = run_draft_procedure(*target, *drafter, *cache, ids, steps);

  EXPECT_LT(test::rel_error(r.target_logits, ref.f32("target_logits")), kTolerance);
  EXPECT_LT(test::rel_error(r.target_hidden, ref.f32("target_final_hidden")), kTolerance);
  EXPECT_EQ(r.next_token, ref.ids("target_next_token").at(0));
  ASSERT_EQ(r.shared_kv.size(), 2u);
  for (const auto& kv : r.shared_kv) {
    EXPECT_LT(test::rel_error(kv.k, ref.f32("shared_kv." + kv.type + ".k")), kTolerance) << kv.type;
    EXPECT_LT(test::rel_error(kv.v, ref.f32("shared_kv." + kv.type + ".v")), kTolerance) << kv.type;
  }
  EXPECT_EQ(r.draft_ids, ref.ids("draft_ids"));
  const std::vector<float> want = ref.f32("draft_logits");
  EXPECT_LT(test::rel_error(r.draft_logits, want), kTolerance);
  // Per step too: a later step's error could hide behind an earlier one's larger logits.
  const size_t V = size_t(target->config().vocab_size);
  ASSERT_EQ(r.draft_logits.size(), size_t(steps) * V);
  for (int s = 0; s < steps; ++s)
    EXPECT_LT(test::rel_error(r.draft_logits.data() + s * V, want.data() + s * V, V), kTolerance) << "step " << s;
  EXPECT_LT(test::rel_error(r.draft_hidden, ref.f32("draft_projected_hidden")), kTolerance);
  std::printf("%s: relative errors: target logits %.2e, final hidden %.2e, draft logits %.2e, projected hidden %.2e\n",
              GetParam().c_str(), test::rel_error(r.target_logits, ref.f32("target_logits")),
              test::rel_error(r.target_hidden, ref.f32("target_final_hidden")), test::rel_error(r.draft_logits, want),
              test::rel_error(r.draft_hidden, ref.f32("draft_projected_hidden")));
}

TEST_P(DrafterFixture, CliWritesTheContractTensors) {
  const std::string dir = test::fixture(GetParam());
  Reference ref = load_reference(dir);
  std::string ids;
  for (int32_t id : ref.ids("input_ids")) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  const std::string out = ::testing::TempDir() + "/draft_" + GetParam() + ".safetensors";
  test::CliResult res = test::run_cli("draft --model " + dir + "/target --draft " + dir + "/drafter --ids " + ids + " --steps 4 --threads 1 --out " + out);
  ASSERT_EQ(res.status, 0) << res.out;
  auto got = SafetensorsFile::open(out);
  const TensorInfo* di = got->find("draft_ids");
  const TensorInfo* dl = got->find("draft_logits");
  ASSERT_TRUE(di && dl);
  EXPECT_EQ(di->dtype, DType::I64);
  EXPECT_EQ(di->shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(dl->dtype, DType::F32);
  EXPECT_EQ(dl->shape, (std::vector<int64_t>{4, 512}));
  std::vector<int32_t> draft_ids;
  for (int64_t v : tensor_to_i64(*di)) draft_ids.push_back(int32_t(v));
  EXPECT_EQ(draft_ids, ref.ids("draft_ids"));
  EXPECT_LT(test::rel_error(tensor_to_f32(*dl), ref.f32("draft_logits")), kTolerance);
  EXPECT_LT(test::rel_error(tensor_to_f32(*got->find("target_logits")), ref.f32("target_logits")), kTolerance);
  std::filesystem::remove(out);
}

TEST_P(DrafterFixture, GgufDrafterFromConvertMatchesTransformers) {
  // convert writes llama.cpp's gemma4-assistant layout (bf16: lossless for these weights); quantize keeps
  // the drafter's extra tensors (the I32 token ordering) intact.
  const std::string dir = test::fixture(GetParam());
  const std::string gguf = ::testing::TempDir() + "/drafter_" + GetParam() + ".gguf";
  const std::string q8 = ::testing::TempDir() + "/drafter_" + GetParam() + "_q8.gguf";
  test::CliResult conv = test::run_cli("convert --model " + dir + "/drafter --out " + gguf + " --quiet --threads 1");
  ASSERT_EQ(conv.status, 0) << conv.out;
  auto f = GgufFile::open(gguf);
  EXPECT_EQ(f->get_string("general.architecture"), "gemma4-assistant");
  EXPECT_TRUE(f->find_tensor("nextn.pre_projection.weight") && f->find_tensor("nextn.post_projection.weight"));
  Reference ref = load_reference(dir);
  auto target = load_model(dir + "/target");
  auto drafter = load_drafter(gguf);
  EXPECT_EQ(drafter->config().ordered_embeddings, std::string(GetParam()) == "g4-e4b-assistant");
  const std::vector<int32_t> ids = ref.ids("input_ids");
  auto cache = target->new_cache(int64_t(ids.size()) + 1, 512, KVType::F32);
  DraftProcedure r = run_draft_procedure(*target, *drafter, *cache, ids, 4);
  EXPECT_EQ(r.draft_ids, ref.ids("draft_ids"));
  EXPECT_LT(test::rel_error(r.draft_logits, ref.f32("draft_logits")), kTolerance);

  test::CliResult qr = test::run_cli("quantize --model " + gguf + " --type q8_0 --out " + q8 + " --quiet --threads 1");
  ASSERT_EQ(qr.status, 0) << qr.out;
  auto qd = load_drafter(q8);
  EXPECT_NO_THROW(qd->check_compatible(target->config()));
  EXPECT_EQ(qd->config().ordered_embeddings, drafter->config().ordered_embeddings);
  EXPECT_EQ(qd->weights().token_ordering, drafter->weights().token_ordering);
  std::filesystem::remove(gguf);
  std::filesystem::remove(q8);
}

INSTANTIATE_TEST_SUITE_P(Assistants, DrafterFixture, ::testing::Values("g4-e4b-assistant", "g4-31b-assistant"));

// A drafter folder whose config is edited: copies the fixture's drafter with `edit` applied to config.json.
std::string edited_drafter(const std::string& name, const std::function<void(Json&)>& edit) {
  const std::string src = test::fixture("g4-31b-assistant") + "/drafter";
  const std::string dst = ::testing::TempDir() + "/drafter_" + name;
  std::filesystem::remove_all(dst);
  std::filesystem::create_directories(dst);
  std::filesystem::copy_file(src + "/model.safetensors", dst + "/model.safetensors");
  Json cfg = parse_json(read_text_file(src + "/config.json"), "config.json");
  edit(cfg);
  FILE* f = std::fopen((dst + "/config.json").c_str(), "w");
  const std::string text = cfg.dump();
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  return dst;
}

TEST(DrafterMismatch, WrongTargetIsRefusedBeforeGenerating) {
  // The 31B drafter on the E4B target: different hidden size.
  auto target = load_model(test::fixture("g4-e4b-assistant") + "/target");
  auto drafter = load_drafter(test::fixture("g4-31b-assistant") + "/drafter");
  try {
    drafter->check_compatible(target->config());
    FAIL() << "a drafter for another hidden size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hidden size of 96"), std::string::npos) << e.what();
  }
  test::CliResult res = test::run_cli("generate --model " + test::fixture("g4-e4b-assistant") + "/target --draft " +
                                      test::fixture("g4-31b-assistant") + "/drafter --ids 2,5,9 --max-tokens 4 --greedy --json");
  EXPECT_NE(res.status, 0);
  EXPECT_NE(res.out.find("does not fit"), std::string::npos) << res.out;
  EXPECT_EQ(res.out.find("\"ids\""), std::string::npos) << res.out;
}

TEST(DrafterMismatch, HeadGeometryAndKvHeadsAreChecked) {
  auto target = load_model(test::fixture("g4-31b-assistant") + "/target");
  // Full layers with 2 KV heads where the target has 1 (the file's q/o shapes still fit: only the KV count changes).
  const std::string kv = edited_drafter("kv", [](Json& c) { c["text_config"]["per_layer_config"]["1"]["num_key_value_heads"] = 2; });
  try {
    load_drafter(kv)->check_compatible(target->config());
    FAIL() << "a drafter expecting 2 full-attention KV heads was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV heads"), std::string::npos) << e.what();
  }
  // A different sliding head dim: the fixture file's q_proj no longer fits, refused on load ...
  const std::string hd = edited_drafter("hd", [](Json& c) { c["text_config"]["head_dim"] = 12; });
  EXPECT_THROW(load_drafter(hd), Error);
  // ... and with weights of the right shapes, refused against the target.
  Json cfg = parse_json(read_text_file(hd + "/config.json"), "config.json");
  Drafter random(drafter_config_from_hf_json(cfg, "edited"), std::make_shared<RandomWeightSource>(WType::F32, 3), {});
  try {
    random.check_compatible(target->config());
    FAIL() << "a drafter with sliding head dim 12 was accepted for a target with 24";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head dim 12"), std::string::npos) << e.what();
  }
  const std::string mt = edited_drafter("mt", [](Json& c) { c["model_type"] = "gemma4_text"; });
  EXPECT_THROW(load_drafter(mt), Error);
}

}  // namespace
}  // namespace g4

// gemma4 draft: the MTP drafter's proposals after a prompt, to a safetensors file (the fixtures' procedure).
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/drafter.h"
#include "runtime/speculative.h"

namespace {

g4::TensorToWrite i64_tensor(const std::string& name, const std::vector<int32_t>& ids) {
  g4::TensorToWrite t;
  t.name = name;
  t.dtype = g4::DType::I64;
  t.shape = {int64_t(ids.size())};
  t.bytes.resize(ids.size() * 8);
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t v = ids[i];
    std::memcpy(t.bytes.data() + i * 8, &v, 8);
  }
  return t;
}

int run_draft(int argc, char** argv) {
  g4::cli::Args args("draft",
                     "Prefill a prompt with the target model, take its most likely next token, and let the MTP drafter "
                     "propose the following tokens greedily (the drafter reads the target's K/V and last hidden state). "
                     "Writes draft_ids (I64 [K]) and draft_logits (F32 [K, vocab]), plus target_logits, "
                     "target_final_hidden, target_next_token, draft_projected_hidden and the shared K/V.");
  args.option("model", "PATH", "target: Hugging Face model folder or GGUF file", true)
      .option("draft", "PATH", "drafter: Hugging Face folder (gemma4_assistant) or GGUF file", true)
      .option("ids", "IDS", "prompt token ids, comma-separated (e.g. 2,17,99)", true)
      .option("steps", "K", "draft steps", false, "4")
      .option("out", "FILE", "output .safetensors file", true);
  g4::cli::add_kv_type_option(args, g4::KVType::F32, "; f32 here, for exact comparisons");
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  const std::vector<int32_t> ids = g4::cli::parse_ids(args, "ids");
  const long long steps = args.get_int("steps");
  if (steps < 1 || steps > 1024) throw g4::Error("--steps must be between 1 and 1024");
  auto t0 = std::chrono::steady_clock::now();
  auto model = g4::load_model(args.get("model"));
  auto drafter = g4::load_drafter(args.get("draft"));
  drafter->check_compatible(model->config());
  auto cache = model->new_cache(int64_t(ids.size()) + 1, 512, kv_type);
  g4::DraftProcedure r = g4::run_draft_procedure(*model, *drafter, *cache, ids, int(steps));
  const int64_t T = int64_t(ids.size()), V = model->config().vocab_size, H = model->config().hidden_size, K = steps;
  std::vector<g4::TensorToWrite> out;
  out.push_back(i64_tensor("draft_ids", r.draft_ids));
  out.push_back(g4::make_f32_tensor("draft_logits", {K, V}, r.draft_logits.data()));
  out.push_back(g4::make_f32_tensor("draft_projected_hidden", {K, H}, r.draft_hidden.data()));
  out.push_back(g4::make_f32_tensor("target_logits", {T, V}, r.target_logits.data()));
  out.push_back(g4::make_f32_tensor("target_final_hidden", {T, H}, r.target_hidden.data()));
  out.push_back(i64_tensor("target_next_token", {r.next_token}));
  for (const auto& kv : r.shared_kv) {
    out.push_back(g4::make_f32_tensor("shared_kv." + kv.type + ".k", {kv.n_kv, T, kv.d}, kv.k.data()));
    out.push_back(g4::make_f32_tensor("shared_kv." + kv.type + ".v", {kv.n_kv, T, kv.d}, kv.v.data()));
  }
  g4::write_safetensors(args.get("out"), out);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "drafted %lld tokens after %zu prompt tokens; wrote %zu tensors to %s (%.3f s)\n", steps, ids.size(), out.size(),
               args.get("out").c_str(), secs);
  return 0;
}

}  // namespace

G4_COMMAND("draft", "MTP drafter proposals after a prompt into a safetensors file", run_draft);

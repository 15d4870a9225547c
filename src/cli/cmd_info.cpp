// gemma4 info: what a checkpoint is, layer by layer, and what it will cost to run.
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/common.h"
#include "core/mapped_file.h"
#include "core/error.h"
#include "model/memory_plan.h"
#include "model/model.h"

namespace {

int run_info(int argc, char** argv) {
  g4::cli::Args args("info", "Describe a model: architecture, sizes, the per-layer plan, parameters and memory.");
  args.option("model", "PATH", "Hugging Face model folder or GGUF file", true)
      .option("ctx", "N", "context length for the memory estimate (default: the model's trained context)")
      .option("parallel", "N", "sequences held at once (the server's --parallel) for the estimate", false, "1");
  g4::cli::add_kv_type_option(args, g4::KVType::F16, "; for the KV-cache estimate");
  if (!args.parse(argc, argv)) return args.exit_code();
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  g4::set_default_load_mode(g4::LoadMode::Map);  // only metadata and shapes are needed: never copy the file
  auto model = g4::load_model(args.get("model"));
  const g4::ModelConfig& c = model->config();
  const long long ctx = args.has("ctx") ? args.get_int("ctx") : c.max_position_embeddings;
  const long long parallel = args.get_int("parallel");
  if (ctx < 1) throw g4::Error("--ctx must be at least 1");
  if (parallel < 1 || parallel > 1024) throw g4::Error("--parallel must be between 1 and 1024");
  // The default 512-token prefill chunk (the sliding layers' ring size depends on it) and a chat's two
  // sliding-window checkpoints per sequence. Computed first: it throws for a type the model cannot use
  // (q8_0 with head dims of 16).
  g4::RunShape shape;
  shape.ctx = ctx;
  shape.kv_types = kv_type;
  shape.checkpoints = 2;
  shape.sequences = int(parallel);
  const g4::MemoryPlan plan = g4::plan_memory(c, int64_t(model->weight_bytes()), shape);
  std::printf("architecture:   %s (%s)\n", c.family_name().c_str(), c.model_type.c_str());
  std::printf("vocab:          %d\n", c.vocab_size);
  std::printf("hidden size:    %d\n", c.hidden_size);
  std::printf("layers:         %d\n", c.n_layers);
  std::printf("heads:          %d\n", c.n_heads);
  std::printf("sliding window: %d\n", c.sliding_window);
  std::printf("rope sliding:   %s theta=%g\n", c.rope_sliding.type.c_str(), c.rope_sliding.theta);
  std::printf("rope full:      %s theta=%g partial=%g factor=%g\n", c.rope_full.type.c_str(), c.rope_full.theta,
              c.rope_full.partial_rotary_factor, c.rope_full.factor);
  std::printf("attention scale: %g\n", c.attention_scale);
  std::printf("final softcap:  %g\n", c.final_logit_softcap);
  if (c.has_ple()) std::printf("per-layer emb.: %d per layer (vocab %d)\n", c.ple_dim, c.ple_vocab);
  if (c.n_kv_shared_layers) std::printf("KV-shared:      last %d layers\n", c.n_kv_shared_layers);
  if (c.is_moe()) std::printf("experts:        %d, top-%d, width %d\n", c.n_experts, c.top_k_experts, c.moe_intermediate_size);
  std::printf("\nlayer  type     head_dim  kv_heads  kv_source  k=v  mlp_width  moe\n");
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const g4::LayerPlan& p = c.layers[i];
    std::printf("%5zu  %-7s  %8d  %8d  %9d  %3s  %9d  %3s\n", i, p.type == g4::LayerType::Full ? "full" : "sliding", p.head_dim,
                p.n_kv_heads, p.kv_source, p.k_eq_v ? "yes" : "no", p.ffn_dim, p.moe ? "yes" : "no");
  }
  std::printf("\nparameters:     %lld (%.3f B)\n", (long long)model->parameter_count(), double(model->parameter_count()) / 1e9);
  std::printf("trained context: %d tokens\n", c.max_position_embeddings);
  std::printf("weight bytes:   %s\n", g4::human_bytes(double(plan.weight_bytes)).c_str());
  std::printf("KV cache:       %s at %lld tokens (%s)%s\n", g4::human_bytes(double(plan.kv_bytes)).c_str(), ctx,
              g4::kv_types_name(kv_type).c_str(), parallel > 1 ? (" x " + std::to_string(parallel) + " sequences").c_str() : "");
  std::printf("working memory: %s\n", g4::human_bytes(double(plan.work_bytes)).c_str());
  std::printf("memory estimate: %s\n", g4::human_bytes(double(plan.total())).c_str());
  const int64_t avail = g4::available_memory_bytes();
  if (avail >= 0) {
    const int64_t fits = g4::largest_context(c, plan.weight_bytes, shape, avail);
    std::printf("available:      %s: %s (largest context that fits: %lld tokens)\n", g4::human_bytes(double(avail)).c_str(),
                plan.total() <= avail ? "fits" : "does NOT fit", (long long)fits);
  }
  return 0;
}

}  // namespace

G4_COMMAND("info", "describe a model: architecture, per-layer plan, size", run_info);

// gemma4 info: what a checkpoint is, layer by layer, and what it will cost to run.
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "model/model.h"

namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) { b /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", b, units[u]);
  return buf;
}

int run_info(int argc, char** argv) {
  g4::cli::Args args("info", "Describe a model: architecture, sizes, the per-layer plan, parameters and memory.");
  args.option("model", "PATH", "Hugging Face model folder or GGUF file", true)
      .option("ctx", "N", "context length for the KV-cache estimate", false, "8192");
  if (!args.parse(argc, argv)) return args.exit_code();
  auto model = g4::load_model(args.get("model"));
  const g4::ModelConfig& c = model->config();
  const long long ctx = args.get_int("ctx");
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
  size_t kv_floats_per_token = 0, kv_sliding_floats = 0;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const g4::LayerPlan& p = c.layers[i];
    std::printf("%5zu  %-7s  %8d  %8d  %9d  %3s  %9d  %3s\n", i, p.type == g4::LayerType::Full ? "full" : "sliding", p.head_dim,
                p.n_kv_heads, p.kv_source, p.k_eq_v ? "yes" : "no", p.ffn_dim, p.moe ? "yes" : "no");
    if (p.kv_source != int(i)) continue;
    size_t row = 2 * size_t(p.n_kv_heads) * size_t(p.head_dim);
    if (p.type == g4::LayerType::Sliding) kv_sliding_floats += row;
    else kv_floats_per_token += row;
  }
  const double weights = double(model->weight_bytes());
  const double window = double(std::min<long long>(ctx, c.sliding_window - 1 + 512));
  const double kv = 4.0 * (double(kv_floats_per_token) * double(ctx) + double(kv_sliding_floats) * window);
  std::printf("\nparameters:     %lld (%.3f B)\n", (long long)model->parameter_count(), double(model->parameter_count()) / 1e9);
  std::printf("weight bytes:   %s (memory-mapped)\n", human_bytes(weights).c_str());
  std::printf("KV cache:       %s at %lld tokens (f32)\n", human_bytes(kv).c_str(), ctx);
  std::printf("memory estimate: %s\n", human_bytes(weights + kv).c_str());
  return 0;
}

}  // namespace

G4_COMMAND("info", "describe a model: architecture, per-layer plan, size", run_info);

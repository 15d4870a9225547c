// gemma4 info: what a checkpoint is, layer by layer, and what it will cost to run.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "core/mapped_file.h"
#include "core/error.h"
#include "model/memory_plan.h"
#include "model/model.h"
#include "model/weights.h"
#include "quant/weight.h"

namespace {

// Matrices per storage type, e.g. "Q4_K x120 (...), Q6_K x40 (...)" (norms are always f32 and not listed).
void print_tensor_types(const g4::Model& model) {
  std::map<std::string, std::pair<int, int64_t>> types;  // name -> (matrices, bytes)
  auto add = [&](const g4::Weight& w) {
    if (w.empty()) return;
    auto& t = types[g4::wtype_info(w.type).name];
    ++t.first;
    t.second += int64_t(w.bytes());
  };
  const g4::ModelWeights& mw = model.weights();
  add(mw.embed);
  add(mw.ple_embed);
  add(mw.ple_model_proj);
  for (const g4::LayerWeights& l : mw.layers) {
    for (const g4::Weight* w : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down, &l.router, &l.ple_gate, &l.ple_proj}) add(*w);
    for (const g4::ExpertWeights& e : l.experts) add(e.gate), add(e.up), add(e.down);
  }
  std::vector<std::pair<std::string, std::pair<int, int64_t>>> sorted(types.begin(), types.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.second > b.second.second; });
  std::string line;  // the type holding most bytes first
  for (const auto& [name, t] : sorted)
    line += (line.empty() ? "" : ", ") + name + " x" + std::to_string(t.first) + " (" + g4::human_bytes(double(t.second)) + ")";
  std::printf("tensor types:   %s\n", line.c_str());
}

// Whether run/chat/serve would map the model file(s) in place or copy them into memory (--load).
void print_loading(const std::string& path, g4::LoadMode mode) {
  std::vector<std::string> files;
  if (g4::is_directory(path)) {
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  } else {
    files.push_back(path);
  }
  int copied = 0;
  for (const std::string& f : files) copied += g4::load_copies(size_t(std::filesystem::file_size(f)), mode) ? 1 : 0;
  const char* how = copied == 0 ? "mapped in place" : copied == int(files.size()) ? "copied into memory (huge pages)" : "partly copied";
  std::printf("loading:        %s (--load %s)\n", how,
              mode == g4::LoadMode::Auto ? "auto" : mode == g4::LoadMode::Map ? "map" : "read");
}

int run_info(int argc, char** argv) {
  g4::cli::Args args("info", "Describe a model: architecture, sizes, the per-layer plan, parameters and memory.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args.option("ctx", "N", "context length for the memory estimate (default: the model's trained context)")
      .flag("ctx-extend", "allow a --ctx above the model's trained context")
      .option("parallel", "N", "sequences held at once (the server's --parallel) for the estimate", false, "1");
  g4::cli::add_load_option(args);
  g4::cli::add_kv_type_option(args, g4::KVType::F16, "; for the KV-cache estimate");
  if (!args.parse(argc, argv)) return args.exit_code();
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  const g4::LoadMode load_mode = g4::parse_load_mode(args.get("load"));  // what run/serve would do with the file
  g4::set_default_load_mode(g4::LoadMode::Map);  // only metadata and shapes are needed: never copy the file
  const long long parallel = args.get_int("parallel");
  if (parallel < 1 || parallel > 1024) throw g4::Error("--parallel must be between 1 and 1024");
  const long long ctx_arg = args.has("ctx") ? g4::cli::context_from_args(args, args.get("model"), g4::RunShape{}) : 0;
  auto model = g4::load_model(args.get("model"));
  const g4::ModelConfig& c = model->config();
  const long long ctx = args.has("ctx") ? ctx_arg : c.max_position_embeddings;
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
  print_tensor_types(*model);
  print_loading(args.get("model"), load_mode);
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

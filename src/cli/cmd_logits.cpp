// gemma4 logits: prompt logits (and optionally every layer's activations) to a safetensors file.
#include <chrono>
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/media_options.h"
#include "runtime/media_input.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/model.h"

namespace {

int run_logits(int argc, char** argv) {
  g4::cli::Args args("logits", "Compute the logits of every prompt position and write them to a safetensors file.");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args
      .option("ids", "IDS", "prompt token ids, comma-separated (e.g. 2,17,99)", true)
      .option("out", "FILE", "output .safetensors file (tensor 'logits', F32 [T, vocab])", true)
      .flag("dump-layers", "also write 'embed', 'ple_token', 'ple', 'layer.<i>' and MoE routing tensors")
      .option("chunk", "N", "prefill chunk size in tokens", false, "512");
  g4::cli::add_media_options(args, true, g4::TowerMath::Exact);
  // f32 here, unlike the other commands: this is the tool for exact comparisons with reference logits.
  g4::cli::add_kv_type_option(args, g4::KVType::F32, "; f32 here, for exact comparisons");
  g4::cli::add_thread_option(args);
  g4::cli::add_load_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  g4::cli::apply_load_option(args);
  const g4::KVTypes kv_type = g4::cli::kv_type_from_args(args);
  std::vector<int32_t> ids = g4::cli::parse_ids(args, "ids");
  auto t0 = std::chrono::steady_clock::now();
  auto model = g4::load_model(args.get("model"), g4::cli::mmproj_from_args(args));
  const long long chunk_arg = args.get_int("chunk");
  if (chunk_arg < 1 || chunk_arg > 65536) throw g4::Error("--chunk must be between 1 and 65536");
  const int chunk = int(chunk_arg);
  // The ids already hold the expanded placeholders; --image / --audio fill their runs in order.
  const g4::MediaPrompt prompt = g4::place_media(*model, ids, g4::cli::media_from_args(args, *model));
  auto cache = model->new_cache(int64_t(ids.size()), g4::media_chunk_size(*model, chunk), kv_type);
  std::vector<g4::TensorToWrite> out;
  std::map<std::string, std::vector<float>> dumps;  // concatenated across chunks
  std::map<std::string, std::vector<int64_t>> shapes;
  g4::ActivationSink sink = [&](const std::string& name, const float* data, const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    auto& buf = dumps[name];
    buf.insert(buf.end(), data, data + n);
    auto& s = shapes[name];
    if (s.empty()) s = shape;
    else s[0] += shape[0];
  };
  std::vector<float> logits = model->prefill(*cache, ids, prompt.spans, true, args.has("dump-layers") ? &sink : nullptr);
  const int64_t V = model->config().vocab_size;
  out.push_back(g4::make_f32_tensor("logits", {int64_t(ids.size()), V}, logits.data()));
  for (auto& [name, buf] : dumps) out.push_back(g4::make_f32_tensor(name, shapes[name], buf.data()));
  g4::write_safetensors(args.get("out"), out);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "wrote %zu tensors to %s (%zu tokens, %.3f s)\n", out.size(), args.get("out").c_str(), ids.size(), secs);
  return 0;
}

}  // namespace

G4_COMMAND("logits", "compute prompt logits into a safetensors file", run_logits);

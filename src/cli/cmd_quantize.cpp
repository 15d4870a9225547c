// gemma4 quantize: re-quantize a GGUF file (llama-quantize rules).
#include <cstdio>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/model_option.h"
#include "cli/common.h"
#include "cli/gguf_output.h"
#include "core/mapped_file.h"
#include "convert/convert.h"
#include "convert/quant_mix.h"

namespace {

int run_quantize(int argc, char** argv) {
  g4::cli::Args args("quantize", "Re-quantize a GGUF file (llama-quantize's rules; norms, router and small vectors stay as they are).");
  g4::cli::add_model_option(args, g4::cli::ModelUse::Inspect);
  args.option("type", "T",
              "a llama-quantize mix (q4_k_m, q5_k_m, q6_k, q3_k_m, iq4_xs, iq4_nl, iq3_m: per-tensor types by llama-quantize's "
              "rules, each named in the report) or one type for every tensor: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
              "q5_1, q2_k, q3_k, q4_k, q5_k, iq3_xxs, iq3_s, iq2_s, iq1_m, mxfp4",
              true)
      .option("out", "FILE", "output .gguf file", true)
      .flag("quiet", "no progress bar");
  g4::cli::add_thread_option(args);
  if (!args.parse(argc, argv)) return args.exit_code();
  g4::cli::apply_thread_option(args);
  const std::string out = args.get("out");
  if (const auto mix = g4::parse_quant_mix(args.get("type"))) {
    g4::cli::print_report(g4::quantize_gguf_mix(args.get("model"), out, *mix, !args.has("quiet")), out);
    return 0;
  }
  g4::cli::print_report(g4::quantize_gguf(args.get("model"), out, g4::parse_wtype(args.get("type")), !args.has("quiet")), out);
  return 0;
}

}  // namespace

G4_COMMAND("quantize", "re-quantize a GGUF file to another tensor type", run_quantize);

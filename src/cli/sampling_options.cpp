#include "cli/sampling_options.h"

#include <cstdint>

#include "core/error.h"

namespace g4::cli {

void add_sampling_options(Args& args) {
  args.flag("greedy", "always take the most likely token")
      .option("temperature", "T", "sampling temperature (0 = greedy)", false, "1.0")
      .option("top-k", "K", "sample among the K most likely tokens (0 = off)", false, "64")
      .option("top-p", "P", "nucleus sampling threshold (1 = off)", false, "0.95")
      .option("min-p", "P", "drop tokens below P times the best one's probability (0 = off)", false, "0")
      .option("repeat-penalty", "X", "repetition penalty (1 = off)", false, "1.0")
      .option("presence-penalty", "X", "presence penalty (0 = off)", false, "0")
      .option("frequency-penalty", "X", "frequency penalty (0 = off)", false, "0")
      .option("seed", "N", "random seed (default: random)");
}

SamplingParams sampling_from_args(const Args& args) {
  SamplingParams p;
  p.greedy = args.has("greedy");
  p.temperature = float(args.get_double("temperature"));
  const long long top_k = args.get_int("top-k");
  if (top_k < 0 || top_k > INT32_MAX) throw Error("--top-k must be between 0 and 2147483647");
  p.top_k = int(top_k);
  p.top_p = float(args.get_double("top-p"));
  p.min_p = float(args.get_double("min-p"));
  p.repetition_penalty = float(args.get_double("repeat-penalty"));
  p.presence_penalty = float(args.get_double("presence-penalty"));
  p.frequency_penalty = float(args.get_double("frequency-penalty"));
  p.seed = args.has("seed") ? uint64_t(args.get_int("seed")) : Sampler::random_seed();
  validate_sampling_params(p);
  return p;
}

}  // namespace g4::cli

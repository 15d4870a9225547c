#include "cli/args_compat.h"

namespace g4::cli {

namespace {

const char* kCpuOnly = "this engine runs on the CPU: there is no GPU to offload to";

const std::vector<IgnoredFlag>& ignored_flags() {
  static const std::vector<IgnoredFlag> v = {
      {"-ngl", true, kCpuOnly},
      {"--gpu-layers", true, kCpuOnly},
      {"--n-gpu-layers", true, kCpuOnly},
      {"-nkvo", false, kCpuOnly},
      {"--no-kv-offload", false, kCpuOnly},
      {"-dev", true, kCpuOnly},
      {"--device", true, kCpuOnly},
      {"-sm", true, kCpuOnly},
      {"--split-mode", true, kCpuOnly},
      {"-ts", true, kCpuOnly},
      {"--tensor-split", true, kCpuOnly},
      {"-mg", true, kCpuOnly},
      {"--main-gpu", true, kCpuOnly},
      {"-fa", true, "attention is always computed in tiles with an online softmax (flash attention) here"},
      {"--flash-attn", true, "attention is always computed in tiles with an online softmax (flash attention) here"},
      {"--mlock", false, "memory is not locked; --load read copies the weights into private memory"},
      {"-b", true, "prompts are processed in chunks of 512 tokens (serve: --prefill-chunk)"},
      {"--batch-size", true, "prompts are processed in chunks of 512 tokens (serve: --prefill-chunk)"},
      {"-ub", true, "prompts are processed in chunks of 512 tokens (serve: --prefill-chunk)"},
      {"--ubatch-size", true, "prompts are processed in chunks of 512 tokens (serve: --prefill-chunk)"},
      {"-tb", true, "one thread count (--threads) serves both the prompt and the answer"},
      {"--threads-batch", true, "one thread count (--threads) serves both the prompt and the answer"},
      {"--numa", true, "threads are not placed per NUMA node"},
      {"-C", true, "threads are not pinned to CPUs"},
      {"--cpu-mask", true, "threads are not pinned to CPUs"},
      {"--prio", true, "the process priority is left as it is"},
      {"--no-warmup", false, "there is no warm-up pass to skip"},
      {"-cb", false, "continuous batching is always on"},
      {"--cont-batching", false, "continuous batching is always on"},
      {"--log-disable", false, "there is no log to disable"},
      {"--no-perf", false, "timings are printed only when asked for (run --stats)"},
      {"-cnv", false, "use `gemma4 chat` for a conversation"},
      {"--conversation", false, "use `gemma4 chat` for a conversation"},
      {"-no-cnv", false, "`gemma4 run` answers one prompt"},
      {"--no-conversation", false, "`gemma4 run` answers one prompt"},
      {"-st", false, "`gemma4 run` answers one prompt"},
      {"--single-turn", false, "`gemma4 run` answers one prompt"},
      {"--jinja", false, nullptr},  // always on: every chat template goes through the Jinja interpreter
  };
  return v;
}

}  // namespace

const std::vector<CompatAlias>& compat_aliases() {
  static const std::vector<CompatAlias> v = {
      {"-m", "model", nullptr},
      {"-hf", "model", nullptr},
      {"-hfr", "model", nullptr},
      {"--hf-repo", "model", nullptr},
      {"-p", "prompt", nullptr},
      {"-f", "file", nullptr},
      {"-n", "max-tokens", nullptr},
      {"--predict", "max-tokens", nullptr},
      {"--n-predict", "max-tokens", nullptr},
      {"-c", "ctx", nullptr},
      {"--ctx-size", "ctx", nullptr},
      {"-t", "threads", nullptr},
      {"-s", "seed", nullptr},
      {"-sys", "system", nullptr},
      {"--system-prompt", "system", nullptr},
      {"--temp", "temperature", nullptr},
      {"-mm", "mmproj", nullptr},
      {"--no-mmap", "load", "read"},
      {"-ctk", "kv-type-k", nullptr},
      {"--cache-type-k", "kv-type-k", nullptr},
      {"-ctv", "kv-type-v", nullptr},
      {"--cache-type-v", "kv-type-v", nullptr},
      {"-np", "parallel", nullptr},
      {"-a", "alias", nullptr},
      {"-b", "prefill-chunk", nullptr},
      {"--batch-size", "prefill-chunk", nullptr},
      // llama-bench's spellings, for `gemma4 bench` (the same letters mean other things in llama-cli)
      {"-p", "pp", nullptr},
      {"--n-prompt", "pp", nullptr},
      {"-n", "tg", nullptr},
      {"--n-gen", "tg", nullptr},
      {"-r", "reps", nullptr},
      {"--repetitions", "reps", nullptr},
      {"-d", "depth", nullptr},
      {"--n-depth", "depth", nullptr},
  };
  return v;
}

const CompatAlias* find_compat_alias(const std::string& spelling, const std::function<bool(const std::string&)>& has_option) {
  for (const CompatAlias& a : compat_aliases())
    if (spelling == a.spelling && has_option(a.target)) return &a;
  return nullptr;
}

const IgnoredFlag* find_ignored_flag(const std::string& spelling) {
  for (const IgnoredFlag& f : ignored_flags())
    if (spelling == f.spelling) return &f;
  return nullptr;
}

}  // namespace g4::cli

#include "cli/common.h"

#include <unistd.h>

#include <climits>
#include <cstdio>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/thread_pool.h"
#include "model/memory_plan.h"

namespace g4::cli {

void add_load_option(Args& args) {
  args.option("load", "MODE",
               "how the model file comes into memory: read (a private copy in huge pages: fastest decoding), map "
               "(use the file in place: least memory), auto (read when it fits in 80 % of free memory)",
               false, "auto");
}

void apply_load_option(const Args& args) {
  try {
    set_default_load_mode(parse_load_mode(args.get("load")));
  } catch (const Error& e) {
    throw Error(std::string("--load: ") + e.what());
  }
}

void add_thread_option(Args& args) { args.option("threads", "N", "worker threads (default: all cores)"); }

void apply_thread_option(const Args& args) {
  if (!args.has("threads")) return;
  long long n = args.get_int("threads");
  if (n < 1 || n > 1024) throw Error("--threads must be between 1 and 1024");
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 0 && n > cores)
    std::fprintf(stderr, "warning: --threads %lld is more than the %ld cores of this machine: threads will share cores "
                         "(usually slower)\n", n, cores);
  ThreadPool::set_default_threads(int(n));
}

void add_ctx_option(Args& args, const std::string& help) {
  args.option("ctx", "N", help + " (default: the model's trained context, capped by the available memory)")
      .flag("ctx-extend", "allow a --ctx above the model's trained context (quality degrades beyond it)");
}

int64_t context_from_args(const Args& args, const std::string& model_path, const RunShape& shape) {
  const ModelConfig c = read_model_config(model_path);
  const int64_t trained = c.max_position_embeddings;
  if (args.has("ctx")) {
    const long long ctx = args.get_int("ctx");
    if (ctx < 16 || ctx > (int64_t(1) << 24)) throw Error("--ctx must be between 16 and 16777216");
    if (trained > 0 && ctx > trained) {
      if (!args.has("ctx-extend"))
        throw Error("--ctx " + std::to_string(ctx) + " is above the model's trained context of " + std::to_string(trained) +
                    " tokens; add --ctx-extend to use it anyway");
      std::fprintf(stderr, "warning: --ctx %lld extends the model's trained context of %lld tokens: answers beyond it "
                           "may degrade\n", ctx, (long long)trained);
    }
    return ctx;
  }
  int64_t ctx = trained > 0 ? trained : 8192;
  const int64_t avail = available_memory_bytes();
  if (avail >= 0) {
    const int64_t fits = largest_context(c, model_weight_bytes(model_path), shape, avail);
    if (fits > 0 && fits < ctx) {
      std::fprintf(stderr, "note: context %lld tokens (the model's trained context of %lld does not fit in the "
                           "available memory; --ctx sets it)\n", (long long)fits, (long long)ctx);
      ctx = fits;
    }
  }
  return ctx;
}

void add_max_tokens_option(Args& args, const std::string& help) {
  args.option("max-tokens", "N", help + " (-1: until the answer ends or the context is full)", false, "-1");
}

int64_t max_tokens_from_args(const Args& args) {
  const long long n = args.get_int("max-tokens");
  if (n < -1 || n > INT32_MAX) throw Error("--max-tokens must be -1 (no limit) or between 0 and 2147483647");
  return n;
}

void add_kv_type_option(Args& args, KVType default_type, const std::string& note) {
  args.option("kv-type", "TYPE",
              std::string("KV-cache storage of keys and values: ") + kv_type_choices() +
                  " (q8_0 and q4_0 need head dims that are multiples of 32)" + note,
              false, kv_type_name(default_type));
  args.option("kv-type-k", "TYPE", "storage of the cached keys alone (default: --kv-type)");
  args.option("kv-type-v", "TYPE", "storage of the cached values alone (default: --kv-type)");
}

KVTypes kv_type_from_args(const Args& args) {
  auto parse = [&](const char* name, KVType fallback) {
    if (!args.has(name)) return fallback;
    try {
      return parse_kv_type(args.get(name));
    } catch (const Error& e) {
      throw Error(std::string("--") + name + ": " + e.what());
    }
  };
  const KVType both = parse("kv-type", KVType::F16);
  return KVTypes(parse("kv-type-k", both), parse("kv-type-v", both));
}

void check_memory_before_loading(const std::string& model_path, int64_t ctx, int chunk, KVTypes types, int checkpoints,
                                 int sequences) {
  RunShape shape;
  shape.ctx = ctx;
  shape.chunk = chunk;
  shape.kv_types = types;
  shape.checkpoints = checkpoints;
  shape.sequences = sequences;
  const ModelConfig c = read_model_config(model_path);
  check_memory(c, model_weight_bytes(model_path), shape);
}

std::vector<int32_t> parse_ids(const Args& args, const std::string& name) {
  std::vector<int32_t> ids;
  for (long long v : args.get_int_list(name)) {
    if (v < 0 || v > INT32_MAX) throw Error("--" + name + ": token id " + std::to_string(v) + " is out of range");
    ids.push_back(int32_t(v));
  }
  if (ids.empty()) throw Error("--" + name + ": no token ids given");
  return ids;
}

}  // namespace g4::cli

#include "cli/common.h"

#include <climits>

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
  ThreadPool::set_default_threads(int(n));
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

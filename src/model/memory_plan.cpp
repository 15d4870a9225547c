#include "model/memory_plan.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "core/json.h"
#include "core/mapped_file.h"
#include "formats/gguf.h"
#include "model/gguf_config.h"

namespace g4 {

namespace {

int64_t file_size(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_size);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelConfig read_model_config(const std::string& path) {
  if (is_directory(path)) {
    const std::string cfg = path + "/config.json";
    if (!file_exists(cfg)) throw Error("no config.json in " + path + ": expected a Hugging Face model folder");
    return config_from_hf_json(parse_json(read_text_file(cfg), cfg), cfg);
  }
  if (!file_exists(path)) throw Error("model path '" + path + "' does not exist");
  auto f = GgufFile::open(path, LoadMode::Map);  // metadata only: nothing is read beyond what is touched
  return config_from_gguf(*f);
}

int64_t model_weight_bytes(const std::string& path) {
  if (!is_directory(path)) return file_size(path);
  int64_t total = 0;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (ends_with(name, ".safetensors")) total += file_size(path + "/" + name);
    }
    closedir(d);
  }
  return total;
}

MemoryPlan plan_memory(const ModelConfig& c, int64_t weight_bytes, const RunShape& s) {
  MemoryPlan p;
  p.weight_bytes = weight_bytes;
  p.kv_bytes = int64_t(KVCache::planned_bytes(c, s.ctx, s.chunk, s.kv_types, s.checkpoints)) * std::max(1, s.sequences);
  // One forward pass of `chunk` tokens: the residual stream and its norms, q/k/v and attention output,
  // the widest MLP's gate and up, per-layer inputs; then logits for every sequence, and scratch.
  int64_t widest_mlp = c.intermediate_size, widest_q = 0;
  for (const LayerPlan& l : c.layers) {
    widest_mlp = std::max<int64_t>(widest_mlp, l.ffn_dim);
    widest_q = std::max<int64_t>(widest_q, int64_t(c.n_heads) * l.head_dim);
  }
  const int64_t t = std::min<int64_t>(s.chunk, s.ctx);
  const int64_t per_token = 6 * int64_t(c.hidden_size) + 3 * widest_mlp + 4 * widest_q + 3 * int64_t(c.n_layers) * c.ple_dim;
  p.work_bytes = t * per_token * 4 + int64_t(c.vocab_size) * 4 * (std::max(1, s.sequences) + 1) + (64LL << 20);
  return p;
}

int64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  long long kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return int64_t(kb) * 1024;
  return -1;
}

int64_t largest_context(const ModelConfig& c, int64_t weight_bytes, RunShape shape, int64_t budget) {
  int64_t lo = 0, hi = std::max<int64_t>(c.max_position_embeddings, 256) / 256;  // in units of 256
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    shape.ctx = mid * 256;
    if (plan_memory(c, weight_bytes, shape).total() <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo * 256;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", b, units[u]);
  return buf;
}

void check_memory(const ModelConfig& c, int64_t weight_bytes, const RunShape& shape) {
  const int64_t avail = available_memory_bytes();
  if (avail < 0) return;
  const MemoryPlan p = plan_memory(c, weight_bytes, shape);
  if (p.total() <= avail) return;
  std::string msg = "not enough memory for a context of " + std::to_string(shape.ctx) + " tokens: it needs about " +
                    human_bytes(double(p.total())) + " (weights " + human_bytes(double(p.weight_bytes)) + ", KV cache " +
                    human_bytes(double(p.kv_bytes)) + " as " + kv_types_name(shape.kv_types);
  if (shape.sequences > 1) msg += " for " + std::to_string(shape.sequences) + " sequences";
  msg += ", working memory " + human_bytes(double(p.work_bytes)) + ") but " + human_bytes(double(avail)) + " is available";
  const int64_t fits = largest_context(c, weight_bytes, shape, avail);
  if (fits > 0) msg += "; at most --ctx " + std::to_string(fits) + " fits with these settings";
  for (KVType cheaper : {KVType::Q8_0, KVType::Q4_0}) {
    RunShape q = shape;
    q.kv_types = cheaper;
    try {
      if (plan_memory(c, weight_bytes, q).total() <= avail && q.kv_types.k != shape.kv_types.k) {
        msg += std::string("; --kv-type ") + kv_type_name(cheaper) + " would fit";
        break;
      }
    } catch (const Error&) {  // the type does not suit this model's head dims
    }
  }
  if (fits == 0) msg += "; the weights alone do not fit: use a smaller quantization";
  throw Error(msg);
}

}  // namespace g4

#pragma once
// How much memory running a model with given settings takes, worked out before anything large is
// loaded, so that a context that cannot fit is refused with the numbers instead of failing (or
// swapping) half way through a long prompt.
#include <cstdint>
#include <string>

#include "model/config.h"
#include "model/kv_cache.h"

namespace g4 {

struct MemoryPlan {
  int64_t weight_bytes = 0;  // the model's tensors (read into memory, or paged from the file)
  int64_t kv_bytes = 0;      // every sequence's KV cache with the whole context filled
  int64_t work_bytes = 0;    // activations of one forward pass of `chunk` tokens, logits, kernel scratch
  int64_t total() const { return weight_bytes + kv_bytes + work_bytes; }
};

struct RunShape {
  int64_t ctx = 8192;       // tokens per sequence
  int chunk = 512;          // prompt tokens per forward pass
  KVTypes kv_types;
  int checkpoints = 0;      // sliding-window checkpoints per sequence
  int sequences = 1;        // sequences held at once (the server's slots)
};

// The config of a model folder (config.json) or GGUF file (its metadata), without loading tensors.
ModelConfig read_model_config(const std::string& path);
// Bytes of a model's tensors: the GGUF file, or the folder's safetensors files.
int64_t model_weight_bytes(const std::string& path);

MemoryPlan plan_memory(const ModelConfig& config, int64_t weight_bytes, const RunShape& shape);

// Memory the system can give without swapping (MemAvailable), or -1 when unknown.
int64_t available_memory_bytes();

// The largest context (a multiple of 256, at least 256) for which plan_memory fits in `budget` bytes, or 0.
int64_t largest_context(const ModelConfig& config, int64_t weight_bytes, RunShape shape, int64_t budget);

// Throws g4::Error before loading when the plan exceeds the available memory, with the figures, the
// largest context that fits and cheaper KV types. No-op when the available memory is unknown.
void check_memory(const ModelConfig& config, int64_t weight_bytes, const RunShape& shape);

// "17.30 GiB"
std::string human_bytes(double bytes);

}  // namespace g4

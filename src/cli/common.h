#pragma once
// Helpers shared by several subcommands.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "model/kv_cache.h"
#include "model/memory_plan.h"

namespace g4::cli {

// --threads N (default: all cores).
void add_thread_option(Args& args);
void apply_thread_option(const Args& args);

// --load auto|map|read: how model files come into memory (core/mapped_file.h LoadMode).
void add_load_option(Args& args);
void apply_load_option(const Args& args);

// --kv-type f32|f16|bf16|q8_0|q4_0 (keys and values), --kv-type-k / --kv-type-v (each alone): how the KV
// cache stores them. `note` is appended to the help.
void add_kv_type_option(Args& args, KVType default_type, const std::string& note = "");
// Throws g4::Error naming the option and the allowed values for anything else.
KVTypes kv_type_from_args(const Args& args);

// Refuses, before anything large is loaded, a run whose KV cache and weights cannot fit in the available
// memory (model/memory_plan.h), with the figures and what would fit.
void check_memory_before_loading(const std::string& model_path, int64_t ctx, int chunk, KVTypes types,
                                 int checkpoints = 0, int sequences = 1);

// --ctx N and --ctx-extend, with one meaning on every command: by default the model's trained context,
// capped by what the available memory holds for `shape` (model/memory_plan.h); a --ctx above the trained
// context is refused unless --ctx-extend (which warns). `help` says what the context is for.
void add_ctx_option(Args& args, const std::string& help);
// The context to use. Reads only the model's config. Warns on stderr (prefixed with the command) when
// extending or when memory caps the default.
int64_t context_from_args(const Args& args, const std::string& model_path, const RunShape& shape);

// --max-tokens N: -1 (the default) is "until the model ends its answer or the context is full", everywhere.
void add_max_tokens_option(Args& args, const std::string& help);
// -1 or 0..2^31-1; throws g4::Error otherwise.
int64_t max_tokens_from_args(const Args& args);

// Parses a comma-separated list of token ids from option `name`.
std::vector<int32_t> parse_ids(const Args& args, const std::string& name);

}  // namespace g4::cli

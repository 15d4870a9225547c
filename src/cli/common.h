#pragma once
// Helpers shared by several subcommands.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"

namespace g4::cli {

// --threads N (default: all cores).
void add_thread_option(Args& args);
void apply_thread_option(const Args& args);

// Parses a comma-separated list of token ids from option `name`.
std::vector<int32_t> parse_ids(const Args& args, const std::string& name);

}  // namespace g4::cli

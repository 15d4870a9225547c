#pragma once
// The sampling flags shared by generate, run, chat and serve's defaults.
#include "cli/args.h"
#include "runtime/sampler.h"

namespace g4::cli {

void add_sampling_options(Args& args);
SamplingParams sampling_from_args(const Args& args);

}  // namespace g4::cli

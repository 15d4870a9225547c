#pragma once
// Writes an MTP drafter as a llama.cpp "gemma4-assistant" GGUF (the layout model/drafter_gguf.cpp reads).
#include <string>

#include "convert/convert.h"
#include "model/drafter.h"

namespace g4 {

// Writes the drafter as a llama.cpp gemma4-assistant GGUF with matrices of `type` (norms f32), tokenizer
// metadata copied from `vocab` when given ("" for none).
WriteReport write_drafter_gguf(const Drafter& drafter, const std::string& out, WType type, const std::string& name,
                               const std::string& vocab);

}  // namespace g4

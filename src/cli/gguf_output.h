#pragma once
// What convert, quantize and synth share: where the default vocabulary comes from and how a written
// file is reported.
#include <string>

#include "convert/convert.h"

namespace g4::cli {

// The vocabulary GGUF copied into written files: ../shared's real Gemma 4 vocabulary when present.
std::string default_vocab();

// Notes, type fallbacks and the size of what was written, on stderr.
void print_report(const WriteReport& report, const std::string& out);

}  // namespace g4::cli

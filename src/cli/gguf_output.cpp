#include "cli/gguf_output.h"

#include <cstdio>

#include "core/mapped_file.h"

namespace g4::cli {

std::string default_vocab() {
  std::string p = std::string(G4_DEFAULT_SHARED) + "/fixtures/tokenizer/gemma4-vocab.gguf";
  return file_exists(p) ? p : default_vocab_path();
}

void print_report(const WriteReport& r, const std::string& out) {
  for (const std::string& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  if (!r.rules.empty()) {
    std::fprintf(stderr, "tensor types (llama-quantize's rule for each):\n");
    for (const std::string& x : r.rules) std::fprintf(stderr, "  %s\n", x.c_str());
  }
  if (!r.fallbacks.empty()) {
    std::fprintf(stderr, "%zu tensors fell back to another type (row width not a multiple of the block size):\n", r.fallbacks.size());
    for (const std::string& f : r.fallbacks) std::fprintf(stderr, "  %s\n", f.c_str());
  }
  std::fprintf(stderr, "wrote %s: %zu tensors, %.3f GB of tensor data\n", out.c_str(), r.n_tensors, double(r.bytes) / 1e9);
}

}  // namespace g4::cli

// Tokenizer benchmark: vocabulary load time (GGUF and tokenizer.json) and single-thread encode/decode
// throughput on mixed text (prose, code, CJK, emoji, whitespace runs: all fixture texts repeated).
//
//   tokenizer_bench [seconds_per_measurement=2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/mapped_file.h"
#include "text/tokenizer.h"

using namespace g4;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int main(int argc, char** argv) {
  double secs = argc > 1 ? std::atof(argv[1]) : 2.0;
  const std::string dir = std::string(G4_SHARED_DIR) + "/fixtures/tokenizer/";

  // Load times: best of 3 (the first includes page-cache warm-up).
  double best_gguf = 1e30, best_json = 1e30;
  std::unique_ptr<Tokenizer> tok, tok_hf;
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    tok = Tokenizer::load(dir + "gemma4-vocab.gguf");
    best_gguf = std::min(best_gguf, ms_since(t0));
  }
  for (int i = 0; i < 2; ++i) {
    auto t0 = Clock::now();
    tok_hf = Tokenizer::load(dir + "gemma3-tokenizer.json");
    best_json = std::min(best_json, ms_since(t0));
  }
  std::printf("load gemma4-vocab.gguf (262144 tokens, 514906 merges): %.1f ms\n", best_gguf);
  std::printf("load gemma3-tokenizer.json (33 MB JSON):              %.1f ms\n", best_json);

  // Mixed text: every fixture text, plus a block of English prose and C++ code.
  std::string text;
  for (const char* f : {"gemma4-cases.json", "gemma3-cases.json"}) {
    Json j = parse_json(read_text_file(dir + f), f);
    for (const auto& c : j["cases"]) text += c["text"].get<std::string>() + "\n";
  }
  std::string prose =
      "The quick brown fox jumps over the lazy dog. In 2024, researchers reported that large language models "
      "can follow instructions, write code, and translate between dozens of languages; however, they still "
      "make mistakes with arithmetic (e.g. 1234 * 5678) and rare words like 'sesquipedalian'.\n";
  std::string code =
      "for (size_t i = 0; i < n; ++i) {\n    if (x[i] > best) { best = x[i]; arg = i; }\n}\nreturn arg;\n";
  std::string mixed;
  while (mixed.size() < (1u << 20)) mixed += text + prose + prose + code;
  std::printf("mixed text: %.2f MB\n", mixed.size() / 1e6);

  for (auto [name, t] : {std::pair<const char*, const Tokenizer*>{"gguf", tok.get()}, {"tokenizer.json", tok_hf.get()}}) {
    size_t bytes = 0, tokens = 0;
    auto t0 = Clock::now();
    while (ms_since(t0) < secs * 1000) {
      std::vector<int32_t> ids = t->encode(mixed);
      bytes += mixed.size();
      tokens += ids.size();
    }
    double s = ms_since(t0) / 1000;
    std::printf("encode (%s, 1 thread): %.2f MB/s, %.2f M tokens/s\n", name, bytes / s / 1e6, tokens / s / 1e6);
  }
  {
    std::vector<int32_t> ids = tok->encode(mixed);
    size_t bytes = 0;
    auto t0 = Clock::now();
    while (ms_since(t0) < secs * 500) bytes += tok->decode(ids).size();
    double s = ms_since(t0) / 1000;
    std::printf("decode (gguf, 1 thread): %.1f MB/s\n", bytes / s / 1e6);
  }
  return 0;
}

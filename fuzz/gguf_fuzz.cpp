// libFuzzer target: GGUF parsing and tokenizer loading from arbitrary bytes must either succeed or
// throw g4::Error: no crash, no out-of-bounds read, no allocation beyond the input's size.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/gguf.h"
#include "model/drafter.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<g4::GgufFile> g;
  try {
    g = g4::GgufFile::parse(data, size, "fuzz.gguf");
  } catch (const g4::Error&) {
    return 0;
  }
  size_t sink = 0;
  for (const std::string& key : g->keys()) sink += g->get(key).to_string().size();
  for (const g4::GgufTensor& t : g->tensors()) {
    sink += size_t(t.numel()) + t.shape_str().size();
    if (t.nbytes) sink += t.data[0] + t.data[t.nbytes - 1];
    try {
      g->require_supported(t);
    } catch (const g4::Error&) {
    }
  }
  try {  // a gemma4-assistant drafter's configuration
    g4::DrafterConfig d = g4::drafter_config_from_gguf(*g);
    sink += size_t(d.backbone_hidden) + d.text.layers.size();
  } catch (const g4::Error&) {
  }
  try {
    auto tok = g4::Tokenizer::load_gguf(*g);
    std::vector<int32_t> ids = tok->encode("Hello <|turn>w\xC3\xB6rld\n\n  12\xFF", true, true);
    ids = tok->encode("<bos> plain \xE2\x96\x81 text", false);
    sink += tok->decode(ids).size();
    for (int32_t id = 0; id < tok->vocab_size() && id < 64; ++id) sink += tok->token_bytes(id).size();
  } catch (const g4::Error&) {
  }
  volatile size_t keep = sink;
  (void)keep;
  return 0;
}

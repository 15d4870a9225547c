// libFuzzer target: the safetensors header parser must reject any malformed image with g4::Error,
// never crash or read out of bounds. When a header parses, every tensor's bytes are touched.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/safetensors.h"

volatile uint8_t g_sink;  // keeps the reads of tensor bytes from being optimised away

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto tensors = g4::parse_safetensors(data, size, "fuzz");
    uint8_t acc = 0;
    for (const auto& [name, t] : tensors)
      if (t.nbytes) acc ^= t.data[0] ^ t.data[t.nbytes - 1];
    g_sink = acc;
  } catch (const g4::Error&) {
  }
  return 0;
}

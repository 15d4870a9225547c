// retype_gguf: makes a GGUF of the same shapes as IN with every tensor IN stores quantized retyped to TYPE,
// filled with random blocks (small finite scales), for speed comparisons of tensor types at real sizes
// (E2B-shaped files of each type in seconds; the values do not matter to the kernels' speed, and
// quantizing billions of weights with the reference quantizers would take an hour per file).
//
//   retype_gguf IN.gguf OUT.gguf TYPE      (TYPE as ggml names it: Q3_K, IQ4_XS, IQ2_XXS, MXFP4, ...)
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_writer.h"
#include "convert/gguf_stream.h"
#include "quant/weight.h"

using namespace g4;

namespace {

uint64_t g_state = 0x9e3779b97f4a7c15ull;
uint64_t rnd() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return g_state;
}

void set_half(uint8_t* p, float f) {
  const uint16_t h = f32_to_f16(f);
  std::memcpy(p, &h, 2);
}

// Random bytes, then each block's scales set to ~1e-3 (min scales to ~1e-4) at the format's positions.
void fill(WType t, uint8_t* p, size_t bytes) {
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t v = rnd();
    std::memcpy(p + i, &v, 8);
  }
  const WTypeInfo& info = wtype_info(t);
  for (size_t b = 0; b + size_t(info.block_bytes) <= bytes; b += size_t(info.block_bytes)) {
    uint8_t* q = p + b;
    switch (t) {
      case WType::Q6_K: set_half(q + 208, 1e-3f); break;
      case WType::Q3_K: set_half(q + 108, 1e-3f); break;
      case WType::Q2_K: set_half(q + 80, 1e-3f), set_half(q + 82, 1e-4f); break;
      case WType::MXFP4: q[0] = 117; break;
      case WType::IQ1_M: {
        const uint16_t s16 = f32_to_f16(1e-3f);
        for (int k = 0; k < 4; ++k) q[48 + 2 * k + 1] = uint8_t((q[48 + 2 * k + 1] & 0x0f) | (((s16 >> (4 * k)) & 0xf) << 4));
        break;
      }
      // Float types: every element 1e-3 in its own encoding (f16 bits in a bf16 or the low half of an f32
      // would make tiny or random values: denormal arithmetic, or NaN).
      case WType::BF16: {
        const uint16_t b = f32_to_bf16(1e-3f);
        std::memcpy(q, &b, 2);
        break;
      }
      case WType::F32: {
        const float f = 1e-3f;
        std::memcpy(q, &f, 4);
        break;
      }
      default: set_half(q, 1e-3f); break;
    }
    if (t == WType::Q4_K || t == WType::Q5_K || t == WType::Q4_1 || t == WType::Q5_1) set_half(q + 2, 1e-4f);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: retype_gguf IN.gguf OUT.gguf TYPE\n");
    return 2;
  }
  try {
    WType type = WType::F32;
    bool found = false;
    for (uint32_t id = 0; id < 64 && !found; ++id)
      if (const GgmlTypeInfo* i = ggml_type_info(id); i && i->computable && argv[3] == std::string(i->name))
        type = WType(id), found = true;
    if (!found) throw Error(std::string("unknown type ") + argv[3]);
    auto in = GgufFile::open(argv[1]);
    GgufWriter meta;
    meta.copy_metadata(*in);
    GgufStreamWriter w(meta);
    std::vector<uint32_t> types;
    for (const GgufTensor& t : in->tensors()) {
      const bool retype = wtype_info(WType(t.ggml_type)).block_elems > 1 && t.ne[0] % wtype_info(type).block_elems == 0;
      types.push_back(retype ? uint32_t(type) : t.ggml_type);
      w.add_tensor_info(t.name, types.back(), t.ne);
    }
    w.open(argv[2]);
    std::vector<uint8_t> buf;
    for (size_t i = 0; i < in->tensors().size(); ++i) {
      const GgufTensor& t = in->tensors()[i];
      if (types[i] == t.ggml_type) {
        w.write(t.data, t.nbytes);
        continue;
      }
      const size_t rb = wtype_row_bytes(type, t.ne[0]);
      const size_t rows = size_t(t.numel() / t.ne[0]);
      const size_t chunk_rows = std::max<size_t>(1, (size_t(16) << 20) / rb);
      for (size_t r = 0; r < rows; r += chunk_rows) {
        const size_t n = std::min(chunk_rows, rows - r);
        buf.resize(n * rb);
        fill(type, buf.data(), buf.size());
        w.write(buf.data(), buf.size());
      }
    }
    w.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "retype_gguf: %s\n", e.what());
    return 1;
  }
  return 0;
}

#pragma once
// Test data for the block formats: random block bytes with sane scales (so every code of every format is
// exercised without infinities), and ggml's name of each type.
#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "quant/weight.h"

namespace g4::test {

// Random bytes for nblocks blocks of type t, with finite fp16 scales of |d| < 0.05 at each format's
// scale positions (and a mid-range exponent for MXFP4).
inline std::vector<uint8_t> random_blocks(WType t, int64_t nblocks, uint64_t seed) {
  const WTypeInfo& info = wtype_info(t);
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return uint32_t(s >> 11);
  };
  std::vector<uint8_t> v(static_cast<size_t>(nblocks * info.block_bytes));
  for (auto& b : v) b = uint8_t(next());
  auto set_half = [&](uint8_t* p) {
    const float u = float(next() & 0xffffff) / float(1 << 24);
    const uint16_t h = f32_to_f16((u - 0.3f) * 0.05f);
    p[0] = uint8_t(h);
    p[1] = uint8_t(h >> 8);
  };
  for (int64_t i = 0; i < nblocks; ++i) {
    uint8_t* b = v.data() + i * info.block_bytes;
    switch (t) {
      case WType::F32: case WType::F16: case WType::BF16: break;
      case WType::Q6_K: set_half(b + 208); break;
      case WType::Q3_K: set_half(b + 108); break;
      case WType::Q2_K: set_half(b + 80); set_half(b + 82); break;
      case WType::MXFP4: b[0] = uint8_t(100 + next() % 40); break;
      case WType::IQ1_M: {  // the fp16 scale is spread over the top nibbles of the four scale words
        uint8_t h[2];
        set_half(h);
        const uint16_t s16 = uint16_t(h[0] | (h[1] << 8));
        for (int k = 0; k < 4; ++k)
          b[48 + 2 * k + 1] = uint8_t((b[48 + 2 * k + 1] & 0x0f) | (((s16 >> (4 * k)) & 0xf) << 4));
        break;
      }
      default: set_half(b); break;
    }
    if (t == WType::Q4_K || t == WType::Q5_K || t == WType::Q4_1 || t == WType::Q5_1) set_half(b + 2);
  }
  return v;
}

// ggml's name of a type in dequantize_row_<name>: "q4_0", "q4_K", "iq2_xxs", "mxfp4".
inline std::string ggml_suffix(WType t) {
  std::string n = wtype_info(t).name;
  for (auto& c : n) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (n.size() == 4 && n[2] == '_' && n[3] == 'k') n[3] = 'K';
  return n;
}

}  // namespace g4::test

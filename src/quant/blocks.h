#pragma once
// Byte layouts of the ggml block formats (see ggml-common.h). Internal to src/quant.
#include <cstddef>
#include <cstdint>

namespace g4::blocks {

constexpr int QK = 32;    // elements per Q4_0 / Q8_0 block
constexpr int QKK = 256;  // elements per K-quant super-block

struct Q8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[32];
};
struct Q4_0 {
  uint16_t d;         // fp16 scale
  uint8_t qs[16];     // element j in the low nibble of qs[j], element j+16 in the high nibble
};
struct Q4_K {
  uint16_t d, dmin;    // fp16 super-scales of the 6-bit sub-block scales and mins
  uint8_t scales[12];  // 8 scales + 8 mins, 6 bits each
  uint8_t qs[128];     // per 64 elements: 32 bytes, low nibbles = first 32, high nibbles = next 32
};
struct Q5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];      // fifth bits: bit 2i / 2i+1 of qh[l] for element l of sub-blocks 2i / 2i+1
  uint8_t qs[128];
};
struct Q6_K {
  uint8_t ql[128];     // low 4 bits
  uint8_t qh[64];      // high 2 bits
  int8_t scales[16];   // one per 16 elements
  uint16_t d;
};

static_assert(sizeof(Q8_0) == 34 && sizeof(Q4_0) == 18 && sizeof(Q4_K) == 144 && sizeof(Q5_K) == 176 &&
              sizeof(Q6_K) == 210);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block.
inline void k4_scale_min(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace g4::blocks

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

struct Q4_1 {
  uint16_t d, m;       // fp16 scale and min: element = d * code + m
  uint8_t qs[16];      // as Q4_0
};
struct Q5_0 {
  uint16_t d;
  uint8_t qh[4];       // fifth bits: bit j of the little-endian u32 for element j
  uint8_t qs[16];      // low nibbles as Q4_0; element = d * (code - 16)
};
struct Q5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct IQ4_NL {
  uint16_t d;
  uint8_t qs[16];      // as Q4_0, each nibble an index into kvalues_iq4nl
};
struct MXFP4 {
  uint8_t e;           // E8M0 scale exponent
  uint8_t qs[16];      // as Q4_0, each nibble an E2M1 value (kvalues_mxfp4, doubled)
};
struct Q2_K {
  uint8_t scales[16];  // per 16 elements: low nibble scale, high nibble min
  uint8_t qs[64];      // 2-bit codes: per 128 elements 32 bytes, shift 0/2/4/6 for the four 32-runs
  uint16_t d, dmin;
};
struct Q3_K {
  uint8_t hmask[32];   // third bits: bit k of hmask[l] for element 32k + l
  uint8_t qs[64];      // low 2 bits, as Q2_K
  uint8_t scales[12];  // 16 signed 6-bit scales (offset 32)
  uint16_t d;
};
struct IQ4_XS {
  uint16_t d;
  uint16_t scales_h;   // high 2 bits of the eight 6-bit sub-block scales
  uint8_t scales_l[4]; // low 4 bits
  uint8_t qs[128];     // per 32 elements 16 bytes, as IQ4_NL
};
struct IQ2_XXS {
  uint16_t d;
  uint16_t qs[32];     // per 32 elements two u32: four 8-bit grid indices; 4 x 7 sign bits + 4-bit scale
};
struct IQ2_XS {
  uint16_t d;
  uint16_t qs[32];     // 9-bit grid index + 7 sign bits per 8 elements
  uint8_t scales[8];   // two 4-bit scales per 32 elements
};
struct IQ2_S {
  uint16_t d;
  uint8_t qs[64];      // 32 low grid-index bytes, then 32 sign bytes
  uint8_t qh[8];       // high 2 bits of the four grid indices of each 32 elements
  uint8_t scales[8];
};
struct IQ3_XXS {
  uint16_t d;
  uint8_t qs[96];      // 64 grid indices (4 elements each), then per 32 elements a u32 of signs + scale
};
struct IQ3_S {
  uint16_t d;
  uint8_t qs[64];      // low 8 bits of the grid indices
  uint8_t qh[8];       // ninth bits
  uint8_t signs[32];
  uint8_t scales[4];   // 4-bit scales, one per 32 elements
};
struct IQ1_S {
  uint16_t d;
  uint8_t qs[32];      // low 8 bits of the 11-bit grid indices
  uint16_t qh[8];      // per 32 elements: 4 x 3 high index bits, 3-bit scale, delta sign
};
struct IQ1_M {
  uint8_t qs[32];
  uint8_t qh[16];      // high 3 index bits and delta sign per 8 elements
  uint8_t scales[8];   // 3-bit scales; the fp16 super-scale is spread over their top nibbles
};

static_assert(sizeof(Q8_0) == 34 && sizeof(Q4_0) == 18 && sizeof(Q4_K) == 144 && sizeof(Q5_K) == 176 &&
              sizeof(Q6_K) == 210);
static_assert(sizeof(Q4_1) == 20 && sizeof(Q5_0) == 22 && sizeof(Q5_1) == 24 && sizeof(IQ4_NL) == 18 &&
              sizeof(MXFP4) == 17 && sizeof(Q2_K) == 84 && sizeof(Q3_K) == 110 && sizeof(IQ4_XS) == 136 &&
              sizeof(IQ2_XXS) == 66 && sizeof(IQ2_XS) == 74 && sizeof(IQ2_S) == 82 && sizeof(IQ3_XXS) == 98 &&
              sizeof(IQ3_S) == 110 && sizeof(IQ1_S) == 50 && sizeof(IQ1_M) == 56);

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

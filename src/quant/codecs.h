#pragma once
// Dequantizers and reference quantizers of the block formats, one pair per type (internal to src/quant;
// the public entry points are dequantize_blocks and quantize_row). Each dequantizer is bit-exact with
// ggml's dequantize_row_*; each quantizer writes the bytes ggml_quantize_chunk writes without an
// importance matrix (what llama-quantize does when given none).
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace g4::codecs {

// Round to nearest, ties to even (valid for |x| < 2^22), as ggml's nearest_int.
inline int nearest_int(float x) {
  float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// codecs_32.cpp: 32-element blocks.
void deq_q4_1(const uint8_t* src, float* y, int64_t nb);
void deq_q5_0(const uint8_t* src, float* y, int64_t nb);
void deq_q5_1(const uint8_t* src, float* y, int64_t nb);
void deq_iq4_nl(const uint8_t* src, float* y, int64_t nb);
void deq_mxfp4(const uint8_t* src, float* y, int64_t nb);
void deq_iq4_xs(const uint8_t* src, float* y, int64_t nb);
void quant_q4_1(const float* x, uint8_t* dst, int64_t nb);
void quant_q5_0(const float* x, uint8_t* dst, int64_t nb);
void quant_q5_1(const float* x, uint8_t* dst, int64_t nb);
void quant_iq4_nl(const float* x, uint8_t* dst, int64_t nb);
void quant_mxfp4(const float* x, uint8_t* dst, int64_t nb);
void quant_iq4_xs(const float* x, uint8_t* dst, int64_t nb);

// codecs_iq.cpp: grid (i-quant) super-blocks, dequantization.
void deq_iq2_xxs(const uint8_t* src, float* y, int64_t nb);
void deq_iq2_xs(const uint8_t* src, float* y, int64_t nb);
void deq_iq2_s(const uint8_t* src, float* y, int64_t nb);
void deq_iq3_xxs(const uint8_t* src, float* y, int64_t nb);
void deq_iq3_s(const uint8_t* src, float* y, int64_t nb);
void deq_iq1_s(const uint8_t* src, float* y, int64_t nb);
void deq_iq1_m(const uint8_t* src, float* y, int64_t nb);
// codecs_iq_quant.cpp, codecs_iq1_quant.cpp: the grid types ggml quantizes without an importance matrix.
// (IQ2_XXS, IQ2_XS and IQ1_S need one; they are not written.)
void quant_iq3_xxs(const float* x, uint8_t* dst, int64_t nb);
void quant_iq3_s(const float* x, uint8_t* dst, int64_t nb);
void quant_iq2_s(const float* x, uint8_t* dst, int64_t nb);
void quant_iq1_m(const float* x, uint8_t* dst, int64_t nb);

// E8M0 exponent -> 2^(e - 128) (half the MX scale: the E2M1 table is doubled), as ggml_e8m0_to_fp32_half.
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (uint32_t(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace g4::codecs

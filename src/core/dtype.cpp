#include "core/dtype.h"

namespace g4 {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::U8: case DType::I8: case DType::BOOL: return 1;
  }
  return 0;
}

namespace {
float bits_to_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
uint32_t f32_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
}  // namespace

// Branch-light IEEE conversions (round to nearest even), portable to compilers without _Float16.
float f16_to_f32(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = uint32_t(h & 0x7fff) << 13;
  uint32_t exp = shifted_exp & o;
  o += uint32_t(127 - 15) << 23;
  if (exp == shifted_exp) {
    o += uint32_t(128 - 16) << 23;  // Inf/NaN
  } else if (exp == 0) {            // zero/subnormal: renormalise through float arithmetic
    o += 1u << 23;
    o = f32_to_bits(bits_to_f32(o) - bits_to_f32(113u << 23));
  }
  o |= uint32_t(h & 0x8000) << 16;
  return bits_to_f32(o);
}

uint16_t f32_to_f16(float f) {
  uint32_t x = f32_to_bits(f);
  uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint32_t o;
  if (x >= (uint32_t(127 + 16) << 23)) {
    o = x > (255u << 23) ? 0x7e00 : 0x7c00;
  } else if (x < (113u << 23)) {
    const uint32_t magic = uint32_t((127 - 15) + (23 - 10) + 1) << 23;
    o = f32_to_bits(bits_to_f32(x) + bits_to_f32(magic)) - magic;
  } else {
    uint32_t mant_odd = (x >> 13) & 1;
    x += (uint32_t(15 - 127) << 23) + 0xfff;
    x += mant_odd;
    o = x >> 13;
  }
  return uint16_t(o | (sign >> 16));
}

}  // namespace g4

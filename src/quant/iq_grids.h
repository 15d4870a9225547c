#pragma once
// Value tables of ggml's non-linear and i-quant formats (internal to src/quant).
#include <cstdint>

namespace g4::iq {

// IQ4_NL / IQ4_XS code values.
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
// MXFP4: E2M1 values, doubled (the scale is halved to match).
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// Grids: entry i packs the grid point's coordinates, one byte each, lowest byte first.
extern const uint64_t kIq2xxsGrid[256];
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];
extern const uint32_t kIq3sGrid[512];
extern const uint64_t kIq1sGrid[2048];  // signed bytes -1, 0, 1

// 7 stored sign bits -> 8 signs: the eighth makes the number of negative signs even.
inline uint8_t iq_signs(uint32_t seven) {
  return uint8_t(seven | ((__builtin_popcount(seven) & 1u) << 7));
}

constexpr float kIq1Delta = 0.125f;

}  // namespace g4::iq

// The integer GEMMs' 16-row transpose (gemm_int8_avx512.cpp, gemm_int8_more_avx512.cpp). Includes nothing
// itself: include it after <immintrin.h> and after the file's AVX-512 target pragma, so that it is compiled
// with that file's target only.
#pragma once

namespace g4::kernels::impl {
namespace {

// Transposes 16 rows x 8 dwords (32 bytes per row, row i at base + off[i]; repeats allowed) into 8
// vectors: vector j holds dword j of rows 0..15. Three rounds of shuffles, no gathers (slow on some CPUs).
inline void transpose_16x8_at(const uint8_t* base, const int32_t* off, __m512i* out) {
  __m512i z[8], t[8], u[8];
  #pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + off[i]))),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + off[i + 8])), 1);
  #pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
  }
  #pragma GCC unroll 2
  for (int h = 0; h < 8; h += 4) {
    u[h] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
    u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
    u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
    u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
  }
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  #pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    out[c] = _mm512_permutex2var_epi64(u[c], lo, u[c + 4]);
    out[c + 4] = _mm512_permutex2var_epi64(u[c], hi, u[c + 4]);
  }
}

}  // namespace
}  // namespace g4::kernels::impl

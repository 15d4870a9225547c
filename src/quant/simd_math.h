#pragma once
// AVX-512 building blocks shared by the kernel files (internal to src/quant). Every function carries its
// own target attribute, so including this header compiles nothing for a wider ISA than the caller's
// translation unit; call them only from functions with the same (or a wider) target, after run-time
// dispatch has checked the CPU. x86-64 only (empty elsewhere).
#include "core/arch.h"
#if G4_X86
#include <immintrin.h>

#define G4_SIMD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))

namespace g4::kernels::simd {
// Local to each including file: an AVX-512 function must not be a link-once symbol that the linker could
// pick for a baseline caller (scripts/check-isa-leaks.py checks this).
namespace {

// e^x for x in [-87, 88] (clamped): 2^n * e^r with |r| <= ln2/2 and a degree-6 polynomial (rel. error
// ~2e-7). e^-inf is 0 within f32 (the clamp gives e^-87 ≈ 1.6e-38, which callers treat as 0 after
// masking).
G4_SIMD_AVX512 inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// cap * tanh(x / cap), with tanh(z) = 1 - 2 / (1 + e^{2z}) (|2z| clamped to 30, where tanh is 1 in f32).
G4_SIMD_AVX512 inline __m512 softcap_ps(__m512 x, float cap) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 z2 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x, _mm512_set1_ps(2.0f / cap)), _mm512_set1_ps(-30.0f)),
                                  _mm512_set1_ps(30.0f));
  const __m512 t = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(one, exp_ps(z2))));
  return _mm512_mul_ps(_mm512_set1_ps(cap), t);
}

// Transposes a 16 x 16 matrix of 32-bit elements held in r[0..15] (row i in r[i]) in place.
G4_SIMD_AVX512 inline void transpose16x16_epi32(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // Each 128-bit lane now holds a 4x4 block; rearrange the lanes.
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
  }
}

}  // namespace
}  // namespace g4::kernels::simd

#endif  // G4_X86

// AVX-512 BF16 GEMM (vdpbf16ps) for quantized weights and many tokens (prefill without AMX).
// Weight panels of 32 rows x kKc columns are dequantized to bf16 once per call and stored as k-pairs
// ([pair][row][2]); each token's bf16 pair is broadcast against two 16-row vectors; MT tokens x 32 rows
// of f32 accumulators stay in registers.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/kernels_impl.h"

namespace g4::kernels::impl {

namespace {
using namespace blocks;

inline void store_bf16x32(uint16_t* dst, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(dst, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

constexpr int kRows = 32, kKc = 512, kMt = 12;

template <int MT>
void micro(const uint32_t* panel, int kpairs, const uint32_t* x, size_t ldx, float* y, size_t ldy, bool first,
           __mmask16 m0, __mmask16 m1) {
  __m512 c0[MT], c1[MT];
  #pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    if (first) {
      c0[t] = _mm512_setzero_ps();
      c1[t] = _mm512_setzero_ps();
    } else {
      c0[t] = _mm512_maskz_loadu_ps(m0, y + t * ldy);
      c1[t] = _mm512_maskz_loadu_ps(m1, y + t * ldy + 16);
    }
  }
  for (int k = 0; k < kpairs; ++k) {
    const __m512bh w0 = (__m512bh)_mm512_load_si512(panel + k * 32);
    const __m512bh w1 = (__m512bh)_mm512_load_si512(panel + k * 32 + 16);
    #pragma GCC unroll 16
    for (int t = 0; t < MT; ++t) {
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(int(x[t * ldx + size_t(k)]));
      c0[t] = _mm512_dpbf16_ps(c0[t], w0, xv);
      c1[t] = _mm512_dpbf16_ps(c1[t], w1, xv);
    }
  }
  #pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, c0[t]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, c1[t]);
  }
}

using MicroFn = void (*)(const uint32_t*, int, const uint32_t*, size_t, float*, size_t, bool, __mmask16, __mmask16);
template <int... I>
constexpr std::array<MicroFn, sizeof...(I)> micro_table(std::integer_sequence<int, I...>) {
  return {micro<I + 1>...};
}

}  // namespace

void activations_to_bf16(const float* x, size_t n_tokens, int64_t cols, int64_t kpad, uint16_t* out) {
  for (size_t t = 0; t < n_tokens; ++t) {
    const float* xr = x + t * size_t(cols);
    uint16_t* o = out + t * size_t(kpad);
    int64_t k = 0;
    for (; k + 32 <= cols; k += 32) store_bf16x32(o + k, _mm512_loadu_ps(xr + k), _mm512_loadu_ps(xr + k + 16));
    for (; k < cols; ++k) o[k] = f32_to_bf16(xr[k]);
    for (; k < kpad; ++k) o[k] = 0;
  }
}

void weight_row_to_bf16(const Weight& w, int64_t r, uint16_t* dst, int64_t kpad, float* tmp) {
  const int64_t K = w.cols;
  const uint8_t* p = w.row_ptr(r);
  if (w.type == WType::Q8_0) {
    const Q8_0* b = reinterpret_cast<const Q8_0*>(p);
    for (int64_t i = 0; i < K / 32; ++i) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
      const __m512 lo =
          _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)b[i].qs))));
      const __m512 hi =
          _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(b[i].qs + 16)))));
      store_bf16x32(dst + 32 * i, lo, hi);
    }
  } else if (w.type == WType::Q4_0) {
    const Q4_0* b = reinterpret_cast<const Q4_0*>(p);
    const __m128i m4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < K / 32; ++i) {
      const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
      const __m128i v = _mm_loadu_si128((const __m128i*)b[i].qs);
      const __m128i l = _mm_sub_epi8(_mm_and_si128(v, m4), eight);
      const __m128i h = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), m4), eight);
      store_bf16x32(dst + 32 * i, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(l))),
                    _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(h))));
    }
  } else if (w.type == WType::BF16) {
    std::memcpy(dst, p, size_t(K) * 2);
  } else {
    dequantize_row(w, r, tmp);
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) store_bf16x32(dst + k, _mm512_loadu_ps(tmp + k), _mm512_loadu_ps(tmp + k + 16));
    for (; k < K; ++k) dst[k] = f32_to_bf16(tmp[k]);
  }
  for (int64_t k = K; k < kpad; ++k) dst[k] = 0;
}

void gemm_bf16_avx512(const Weight& w, const uint16_t* xbf, size_t n_tokens, int64_t r0, int64_t r1, float* y) {
  static constexpr auto table = micro_table(std::make_integer_sequence<int, kMt>());
  const int64_t K = w.cols, kpad = (K + 31) & ~int64_t(31);
  const size_t ldy = size_t(w.rows), ldx = size_t(kpad / 2);
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(xbf);
  std::vector<uint16_t> rows_bf(size_t(kRows) * size_t(kpad));
  std::vector<float> tmp(static_cast<size_t>(K) + 16);
  uint32_t* panel = static_cast<uint32_t*>(std::aligned_alloc(64, sizeof(uint32_t) * kRows * (kKc / 2)));
  for (int64_t rb = r0; rb < r1; rb += kRows) {
    const int nr = int(std::min<int64_t>(kRows, r1 - rb));
    const __mmask16 m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? __mmask16(0xffff) : (nr <= 16 ? __mmask16(0) : __mmask16((1u << (nr - 16)) - 1));
    for (int r = 0; r < kRows; ++r) {
      uint16_t* dst = rows_bf.data() + size_t(r) * size_t(kpad);
      if (r < nr) weight_row_to_bf16(w, rb + r, dst, kpad, tmp.data());
      else std::memset(dst, 0, size_t(kpad) * 2);
    }
    for (int64_t k0 = 0; k0 < kpad; k0 += kKc) {
      const int kc = int(std::min<int64_t>(kKc, kpad - k0)), kp = kc / 2;
      for (int r = 0; r < kRows; ++r) {
        const uint32_t* src = reinterpret_cast<const uint32_t*>(rows_bf.data() + size_t(r) * size_t(kpad) + k0);
        for (int p = 0; p < kp; ++p) panel[p * 32 + r] = src[p];
      }
      for (size_t t0 = 0; t0 < n_tokens; t0 += kMt) {
        const int mt = int(std::min<size_t>(kMt, n_tokens - t0));
        table[size_t(mt - 1)](panel, kp, x32 + t0 * ldx + size_t(k0 / 2), ldx, y + t0 * ldy + size_t(rb), ldy,
                              k0 == 0, m0, m1);
      }
    }
  }
  std::free(panel);
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#endif

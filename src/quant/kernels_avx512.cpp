// AVX-512 (F/BW/VL/DQ + VNNI) kernels: activation quantization, quantized matrix-vector products with
// vpdpbusd, f32/f16/bf16 matrix-vector products and a register-blocked f32 GEMM for float weights.
// Compiled for these extensions only in this file; called only after run-time detection.
// GCC 12's AVX-512 intrinsics (casts, reductions) trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/kernels_impl.h"

// The target options come after every header, so that no standard-library or project inline function is
// compiled for a wider ISA than the binary: the linker keeps one of the identical-named copies from all
// objects, and an AVX-512 copy would fault on a CPU without it.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

namespace g4::kernels::impl {

namespace {
using namespace blocks;

// Software prefetch distance of the matrix-vector kernels: decoding streams every weight once per token,
// and the hardware prefetchers alone left single-thread decoding 1.5x slower (Q8_0, Q4_K, measured with
// matmul_bench on Sapphire Rapids).
constexpr int kPrefetchBytes = 2048;

// Asks for the `lines` cache lines from p + kPrefetchBytes on.
template <int Lines>
inline void prefetch_ahead(const void* p) {
  const char* c = static_cast<const char*>(p) + kPrefetchBytes;
  #pragma GCC unroll 4
  for (int l = 0; l < Lines; ++l) _mm_prefetch(c + 64 * l, _MM_HINT_T0);
}

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m512i load_m512(const void* p) { return _mm512_loadu_si512(p); }

// ------------------------------------------------------------------ Q8_0: 2 blocks per vector
template <int NT, int R>
inline void q8_0_pass(const Weight& w, const ActQ* a, int64_t r, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32, np = nb / 2;
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  const __m512i didx = _mm512_setr_epi32(0, 0, 0, 0, 0x00110011, 0x00110011, 0x00110011, 0x00110011, 0, 0, 0, 0,
                                         0, 0, 0, 0);  // words: 8x word 0, 8x word 17
  const Q8_0* b[R];
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i) b[i] = reinterpret_cast<const Q8_0*>(w.row_ptr(r + i));
  __m512 acc[R][NT];
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[i][t] = _mm512_setzero_ps();
  for (int64_t p = 0; p < np; ++p) {
    __m512i q[R];
    __m512 dw[R];
    #pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const Q8_0* b0 = b[i] + 2 * p;
      prefetch_ahead<1>(b0);  // 68 bytes per step
      q[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)b0[0].qs)),
                                                 _mm256_loadu_si256((const __m256i*)b0[1].qs), 1),
                              flip);
      dw[i] = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, load_m512(b0))));
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const __m512i bias = load_m512(a[t].bias + 16 * p), av = load_m512(a[t].q + 64 * p);
      const __m512 dl = _mm512_loadu_ps(a[t].dl + 16 * p);
      #pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
        acc[i][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(bias, q[i], av)), _mm512_mul_ps(dw[i], dl),
                                    acc[i][t]);
    }
  }
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      float tail = 0;
      for (int64_t k = 2 * np; k < nb; ++k) {
        int sum = 0;
        for (int j = 0; j < 32; ++j) sum += int(b[i][k].qs[j]) * a[t].q[k * 32 + j];
        tail += h2f(b[i][k].d) * a[t].d[k] * float(sum);
      }
      y[size_t(t) * ldy + size_t(r + i)] = hsum(acc[i][t]) + tail;
    }
}

template <int NT>
void rows_q8_0(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  int64_t r = r0;
  for (; r < r1; ++r) q8_0_pass<NT, 1>(w, a, r, y, ldy);
  if (r < r1) q8_0_pass<NT, 1>(w, a, r, y, ldy);
}

// ------------------------------------------------------------------ Q4_0: 4 blocks per vector pair
template <int NT, int R>
inline void q4_0_pass(const Weight& w, const ActQ* a, int64_t r, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32, ng = nb / 4;
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  // words: 4x word 0, 4x word 9, 4x word 18, 4x word 27 (the fp16 scales of 4 consecutive blocks)
  const __m512i didx = _mm512_setr_epi32(0, 0, 0x00090009, 0x00090009, 0x00120012, 0x00120012, 0x001b001b,
                                         0x001b001b, 0, 0, 0, 0, 0, 0, 0, 0);
  const Q4_0* b[R];
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i) b[i] = reinterpret_cast<const Q4_0*>(w.row_ptr(r + i));
  __m512 acc[R][NT];
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[i][t] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512i lo[R], hi[R];
    __m512 dw[R];
    #pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const Q4_0* bg = b[i] + 4 * g;
      prefetch_ahead<1>(bg);  // 72 bytes per step
      __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i*)bg[0].qs));
      v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)bg[1].qs), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)bg[2].qs), 2);
      v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i*)bg[3].qs), 3);
      lo[i] = _mm512_and_si512(v, m4);
      hi[i] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      dw[i] = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, load_m512(bg))));
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const int8_t* aq = a[t].q + 128 * g;
      const __m512i bias = load_m512(a[t].bias + 16 * g), alo = load_m512(aq), ahi = load_m512(aq + 64);
      const __m512 dl = _mm512_loadu_ps(a[t].dl + 16 * g);
      #pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(bias, lo[i], alo), hi[i], ahi);
        acc[i][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[i], dl), acc[i][t]);
      }
    }
  }
  #pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      float tail = 0;
      for (int64_t k = 4 * ng; k < nb; ++k) {  // a partial group keeps the natural layout
        int sum = 0;
        for (int j = 0; j < 16; ++j)
          sum += ((b[i][k].qs[j] & 15) - 8) * a[t].q[k * 32 + j] + ((b[i][k].qs[j] >> 4) - 8) * a[t].q[k * 32 + j + 16];
        tail += h2f(b[i][k].d) * a[t].d[k] * float(sum);
      }
      y[size_t(t) * ldy + size_t(r + i)] = hsum(acc[i][t]) + tail;
    }
}

template <int NT>
void rows_q4_0(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  int64_t r = r0;
  for (; r < r1; ++r) q4_0_pass<NT, 1>(w, a, r, y, ldy);
  if (r < r1) q4_0_pass<NT, 1>(w, a, r, y, ldy);
}

// ------------------------------------------------------------------ Q4_K / Q5_K
inline void k_scales(const uint8_t* s, uint64_t& sc8, uint64_t& m8) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, s, 4);
  std::memcpy(&u1, s + 4, 4);
  std::memcpy(&u2, s + 8, 4);
  const uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  sc8 = uint64_t(sc_lo) | (uint64_t(sc_hi) << 32);
  m8 = uint64_t(m_lo) | (uint64_t(m_hi) << 32);
}

template <int NT, bool Five>
void rows_qk45(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i sixteen = _mm512_set1_epi8(16);
  const __m512i idx[4] = {
      _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
      _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
      _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
      _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7)};
  // fifth-bit selectors: vector k takes bits (kA, kB) of qh for its two sub-blocks
  const __m512i hsel[4] = {
      _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(4), 1),
      _mm512_inserti64x4(_mm512_set1_epi8(2), _mm256_set1_epi8(8), 1),
      _mm512_inserti64x4(_mm512_set1_epi8(16), _mm256_set1_epi8(64), 1),
      _mm512_inserti64x4(_mm512_set1_epi8(32), _mm256_set1_epi8(char(128)), 1)};
  const size_t bbytes = Five ? sizeof(Q5_K) : sizeof(Q4_K);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m512 acc[NT];
    __m256 accm[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), accm[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* blk = row + size_t(i) * bbytes;
      prefetch_ahead<3>(blk);  // 144 or 176 bytes per super-block
      uint16_t dh, mh;
      std::memcpy(&dh, blk, 2);
      std::memcpy(&mh, blk + 2, 2);
      const uint8_t* qs = blk + (Five ? 48 : 16);
      uint64_t sc8, m8;
      k_scales(blk + 4, sc8, m8);
      const __m256 scf = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(sc8)))),
                                       _mm256_set1_ps(h2f(dh)));
      const __m256 mf = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(m8)))),
                                      _mm256_set1_ps(h2f(mh)));
      const __m512i v0 = load_m512(qs), v1 = load_m512(qs + 64);
      __m512i q[4] = {_mm512_and_si512(v0, m4), _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4),
                      _mm512_and_si512(v1, m4), _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4)};
      if constexpr (Five) {
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(blk + 16)));
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k)
          q[k] = _mm512_mask_add_epi8(q[k], _mm512_test_epi8_mask(qh, hsel[k]), q[k], sixteen);
      }
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        const __m512 f8 = _mm512_castps256_ps512(_mm256_mul_ps(scf, _mm256_loadu_ps(a[t].d + 8 * i)));
        const int8_t* aq = a[t].q + 256 * i;
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k) {
          const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[k], load_m512(aq + 64 * k));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(idx[k], f8), acc[t]);
        }
        accm[t] = _mm256_fmadd_ps(mf, _mm256_loadu_ps(a[t].s + 8 * i), accm[t]);
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]) - hsum256(accm[t]);
  }
}

// ------------------------------------------------------------------ Q6_K
template <int NT>
void rows_q6_k(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  __m512i idx[4];
  #pragma GCC unroll 16
  for (int k = 0; k < 4; ++k)
    idx[k] = _mm512_setr_epi32(4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 2,
                               4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3);
  for (int64_t r = r0; r < r1; ++r) {
    const Q6_K* b = reinterpret_cast<const Q6_K*>(w.row_ptr(r));
    __m512 acc[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nsb; ++i) {
      prefetch_ahead<4>(b + i);  // 210 bytes per super-block
      const __m512 sc = _mm512_mul_ps(
          _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)b[i].scales))),
          _mm512_set1_ps(h2f(b[i].d)));
      __m512i q[4];
      #pragma GCC unroll 16
      for (int h = 0; h < 2; ++h) {
        const __m512i vl = load_m512(b[i].ql + 64 * h);
        const __m512i vh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)(b[i].qh + 32 * h)));
        q[2 * h] = _mm512_or_si512(_mm512_and_si512(vl, m4), _mm512_and_si512(_mm512_sllv_epi16(vh, shl), m30));
        q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(vl, 4), m4),
                                       _mm512_and_si512(_mm512_srlv_epi16(vh, shr), m30));
      }
      __m512 f[4];
      #pragma GCC unroll 16
      for (int k = 0; k < 4; ++k) f[k] = _mm512_permutexvar_ps(idx[k], sc);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        const int8_t* aq = a[t].q + 256 * i;
        const int32_t* bias = a[t].bias + 64 * i;
        const float* dl = a[t].dl + 64 * i;
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k) {
          const __m512i s = _mm512_dpbusd_epi32(load_m512(bias + 16 * k), q[k], load_m512(aq + 64 * k));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(f[k], _mm512_loadu_ps(dl + 16 * k)), acc[t]);
        }
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]);
  }
}

// ------------------------------------------------------------------ float weights, few tokens
template <WType T>
inline __m512 load_w16(const uint8_t* row, int64_t c) {
  if constexpr (T == WType::F32) return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  else if constexpr (T == WType::F16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c)));
  else
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * c))), 16));
}

template <WType T>
inline __m512 load_w16_mask(const uint8_t* row, int64_t c, __mmask16 m) {
  if constexpr (T == WType::F32) return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  else if constexpr (T == WType::F16)
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * c));
  else
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * c)), 16));
}

template <int NT, WType T>
void rows_float(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t cols = w.cols, c32 = cols & ~int64_t(31), c16 = cols & ~int64_t(15);
  const __mmask16 tail_mask = __mmask16((1u << (cols - c16)) - 1);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m512 acc0[NT], acc1[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc0[t] = _mm512_setzero_ps(), acc1[t] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c < c32; c += 32) {
      const __m512 w0 = load_w16<T>(row, c), w1 = load_w16<T>(row, c + 16);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a[t].x + c), acc0[t]);
        acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(a[t].x + c + 16), acc1[t]);
      }
    }
    if (c < c16) {
      const __m512 w0 = load_w16<T>(row, c);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a[t].x + c), acc0[t]);
      c += 16;
    }
    if (c < cols) {
      const __m512 w0 = load_w16_mask<T>(row, c, tail_mask);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t)
        acc1[t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(tail_mask, a[t].x + c), acc1[t]);
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(_mm512_add_ps(acc0[t], acc1[t]));
  }
}

template <template <int> class K>
void rows_nt(const Weight& w, const ActQ* a, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  switch (nt) {
    case 1: return K<1>::run(w, a, r0, r1, y, ldy);
    case 2: return K<2>::run(w, a, r0, r1, y, ldy);
    case 3: return K<3>::run(w, a, r0, r1, y, ldy);
    default: return K<4>::run(w, a, r0, r1, y, ldy);
  }
}

template <int NT> struct KQ8_0 { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_q8_0<NT>(w, a, r0, r1, y, l); } };
template <int NT> struct KQ4_0 { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_q4_0<NT>(w, a, r0, r1, y, l); } };
template <int NT> struct KQ4_K { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_qk45<NT, false>(w, a, r0, r1, y, l); } };
template <int NT> struct KQ5_K { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_qk45<NT, true>(w, a, r0, r1, y, l); } };
template <int NT> struct KQ6_K { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_q6_k<NT>(w, a, r0, r1, y, l); } };
template <int NT> struct KF32 { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_float<NT, WType::F32>(w, a, r0, r1, y, l); } };
template <int NT> struct KF16 { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_float<NT, WType::F16>(w, a, r0, r1, y, l); } };
template <int NT> struct KBF16 { static void run(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t l) { rows_float<NT, WType::BF16>(w, a, r0, r1, y, l); } };

}  // namespace

void quantize_act_avx512(const float* x, int64_t cols, int8_t* q, float* d, float* s) {
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x0, absmask), _mm512_and_ps(x1, absmask)));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid));
    _mm_storeu_si128((__m128i*)(q + 32 * b), _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i*)(q + 32 * b + 16), _mm512_cvtsepi32_epi8(i1));
    d[b] = db;
    s[b] = db * float(_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1)));
  }
}

RowsFn rows_fn_avx512(WType t) {
  switch (t) {
    case WType::Q8_0: return rows_nt<KQ8_0>;
    case WType::Q4_0: return rows_nt<KQ4_0>;
    case WType::Q4_K: return rows_nt<KQ4_K>;
    case WType::Q5_K: return rows_nt<KQ5_K>;
    case WType::Q6_K: return rows_nt<KQ6_K>;
    case WType::F32: return rows_nt<KF32>;
    case WType::F16: return rows_nt<KF16>;
    case WType::BF16: return rows_nt<KBF16>;
    default: break;  // the other types go through matmul_dequant_tiles
  }
  return nullptr;
}

// ------------------------------------------------------------------ float GEMM for many tokens
// Weight panels of 32 rows x KC columns are converted to f32 and transposed (k-major) once; each token's
// value is broadcast against two 16-row vectors. Accumulators live in registers for MT tokens x 32 rows.
namespace {
constexpr int kGemmRows = 32, kGemmKc = 256, kGemmMt = 12;

template <int MT>
void gemm_micro(const float* panel, int kc, const float* x, size_t ldx, float* y, size_t ldy, bool first,
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
  for (int k = 0; k < kc; ++k) {
    const __m512 w0 = _mm512_load_ps(panel + k * 32), w1 = _mm512_load_ps(panel + k * 32 + 16);
    #pragma GCC unroll 16
    for (int t = 0; t < MT; ++t) {
      const __m512 xv = _mm512_set1_ps(x[t * ldx + k]);
      c0[t] = _mm512_fmadd_ps(xv, w0, c0[t]);
      c1[t] = _mm512_fmadd_ps(xv, w1, c1[t]);
    }
  }
  #pragma GCC unroll 16
  for (int t = 0; t < MT; ++t) {
    _mm512_mask_storeu_ps(y + t * ldy, m0, c0[t]);
    _mm512_mask_storeu_ps(y + t * ldy + 16, m1, c1[t]);
  }
}

using MicroFn = void (*)(const float*, int, const float*, size_t, float*, size_t, bool, __mmask16, __mmask16);
template <int... I>
constexpr std::array<MicroFn, sizeof...(I)> micro_table(std::integer_sequence<int, I...>) {
  return {gemm_micro<I + 1>...};
}
}  // namespace

void gemm_float_avx512(const Weight& w, const float* x, size_t n_tokens, int64_t r0, int64_t r1, float* y) {
  static constexpr auto micro = micro_table(std::make_integer_sequence<int, kGemmMt>());
  const int64_t cols = w.cols;
  const size_t ldy = size_t(w.rows), ldx = size_t(cols);
  float* panel = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * kGemmRows * kGemmKc));
  for (int64_t rb = r0; rb < r1; rb += kGemmRows) {
    const int nr = int(std::min<int64_t>(kGemmRows, r1 - rb));
    const __mmask16 m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? __mmask16(0xffff) : (nr <= 16 ? __mmask16(0) : __mmask16((1u << (nr - 16)) - 1));
    for (int64_t k0 = 0; k0 < cols; k0 += kGemmKc) {
      const int kc = int(std::min<int64_t>(kGemmKc, cols - k0));
      for (int r = 0; r < kGemmRows; ++r) {
        if (r < nr) {
          const uint8_t* row = w.row_ptr(rb + r);
          if (w.type == WType::F32) {
            const float* src = reinterpret_cast<const float*>(row) + k0;
            for (int k = 0; k < kc; ++k) panel[k * 32 + r] = src[k];
          } else {
            const uint16_t* src = reinterpret_cast<const uint16_t*>(row) + k0;
            if (w.type == WType::BF16)
              for (int k = 0; k < kc; ++k) panel[k * 32 + r] = bf16_to_f32(src[k]);
            else
              for (int k = 0; k < kc; ++k) panel[k * 32 + r] = _cvtsh_ss(src[k]);
          }
        } else {
          for (int k = 0; k < kc; ++k) panel[k * 32 + r] = 0.0f;
        }
      }
      for (size_t t0 = 0; t0 < n_tokens; t0 += kGemmMt) {
        const int mt = int(std::min<size_t>(kGemmMt, n_tokens - t0));
        micro[size_t(mt - 1)](panel, kc, x + t0 * ldx + size_t(k0), ldx, y + t0 * ldy + size_t(rb), ldy, k0 == 0, m0,
                              m1);
      }
    }
  }
  std::free(panel);
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// AVX2 + FMA + F16C kernels (machines without AVX-512): quantized matrix-vector products with
// vpmaddubsw / vpmaddwd on activations quantized per 32 values (natural layout), and f32/f16/bf16 ones.
// GCC 12's AVX-512 intrinsics (casts, reductions) trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "quant/blocks.h"
#include "quant/kernels_impl.h"

// The target options come after every header, so that no standard-library or project inline function is
// compiled for a wider ISA than the binary: the linker keeps one of the identical-named copies from all
// objects, and an AVX-512 copy would fault on a CPU without it.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2")
#endif

namespace g4::kernels::impl {

namespace {
using namespace blocks;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i loadu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Sum over pairs of products of signed w (|w| <= 128) and a (|a| <= 127), as 8 int32.
inline __m256i dot_s8(__m256i w, __m256i a) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

template <int NT>
void rows_q8_0(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const Q8_0* b = reinterpret_cast<const Q8_0*>(w.row_ptr(r));
    __m256 acc[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const __m256i q = loadu(b[i].qs);
      const float dw = h2f(b[i].d);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        const __m256 s = _mm256_cvtepi32_ps(dot_s8(q, loadu(a[t].q + 32 * i)));
        acc[t] = _mm256_fmadd_ps(s, _mm256_set1_ps(dw * a[t].d[i]), acc[t]);
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]);
  }
}

template <int NT>
void rows_q4_0(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  const __m256i m4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
  for (int64_t r = r0; r < r1; ++r) {
    const Q4_0* b = reinterpret_cast<const Q4_0*>(w.row_ptr(r));
    __m256 acc[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
      const __m256i vv = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
      const __m256i q = _mm256_sub_epi8(_mm256_and_si256(vv, m4), eight);
      const float dw = h2f(b[i].d);
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) {
        const __m256 s = _mm256_cvtepi32_ps(dot_s8(q, loadu(a[t].q + 32 * i)));
        acc[t] = _mm256_fmadd_ps(s, _mm256_set1_ps(dw * a[t].d[i]), acc[t]);
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]);
  }
}

template <int NT, bool Five>
void rows_qk45(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  const size_t bbytes = Five ? sizeof(Q5_K) : sizeof(Q4_K);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m256 acc[NT];
    float accm[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), accm[t] = 0;
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* blk = row + size_t(i) * bbytes;
      uint16_t dh, mh;
      std::memcpy(&dh, blk, 2);
      std::memcpy(&mh, blk + 2, 2);
      const float d = h2f(dh), dmin = h2f(mh);
      const uint8_t* qs = blk + (Five ? 48 : 16);
      const __m256i qh = Five ? loadu(blk + 16) : _mm256_setzero_si256();
      #pragma GCC unroll 16
      for (int c = 0; c < 4; ++c) {
        const __m256i v = loadu(qs + 32 * c);
        #pragma GCC unroll 16
        for (int hlf = 0; hlf < 2; ++hlf) {
          const int j = 2 * c + hlf;
          __m256i q = hlf ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
          if constexpr (Five)
            q = _mm256_or_si256(q, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), one), 4));
          int sc, m;
          k4_scale_min(blk + 4, j, sc, m);
          const float dsc = d * float(sc), dm = dmin * float(m);
          #pragma GCC unroll 16
          for (int t = 0; t < NT; ++t) {
            const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, loadu(a[t].q + 256 * i + 32 * j)), ones16);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dsc * a[t].d[8 * i + j]), acc[t]);
            accm[t] += dm * a[t].s[8 * i + j];
          }
        }
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]) - accm[t];
  }
}

template <int NT>
void rows_q6_k(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
  for (int64_t r = r0; r < r1; ++r) {
    const Q6_K* b = reinterpret_cast<const Q6_K*>(w.row_ptr(r));
    __m256 acc[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nsb; ++i) {
      const float d = h2f(b[i].d);
      #pragma GCC unroll 16
      for (int h = 0; h < 2; ++h) {
        const __m256i l0 = loadu(b[i].ql + 64 * h), l1 = loadu(b[i].ql + 64 * h + 32), qh = loadu(b[i].qh + 32 * h);
        __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
            _mm256_or_si256(_mm256_and_si256(l1, m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4))};
        #pragma GCC unroll 16
        for (int k = 0; k < 4; ++k) {
          const int seg = 8 * h + 2 * k;  // 16-value segments seg and seg+1
          const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(b[i].scales[seg + 1]), _mm_set1_epi16(b[i].scales[seg]));
          const __m256i qs = _mm256_sub_epi8(q[k], off);
          const int blk = 8 * int(i) + 4 * h + k;
          #pragma GCC unroll 16
          for (int t = 0; t < NT; ++t) {
            const __m256i av = loadu(a[t].q + 32 * blk);
            const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(qs, qs), _mm256_sign_epi8(av, qs));
            const __m256i s = _mm256_madd_epi16(p, sc);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d * a[t].d[blk]), acc[t]);
          }
        }
      }
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]);
  }
}

template <int NT, WType T>
void rows_float(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t cols = w.cols, c8 = cols & ~int64_t(7);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m256 acc[NT];
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t c = 0; c < c8; c += 8) {
      __m256 wv;
      if constexpr (T == WType::F32) wv = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
      else if constexpr (T == WType::F16)
        wv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
      else
        wv = _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c))), 16));
      #pragma GCC unroll 16
      for (int t = 0; t < NT; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(a[t].x + c), acc[t]);
    }
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      float tail = 0;
      for (int64_t c = c8; c < cols; ++c) {
        float wv;
        if constexpr (T == WType::F32) wv = reinterpret_cast<const float*>(row)[c];
        else {
          uint16_t h;
          std::memcpy(&h, row + 2 * c, 2);
          if constexpr (T == WType::F16) wv = _cvtsh_ss(h);
          else {
            const uint32_t bits = uint32_t(h) << 16;
            std::memcpy(&wv, &bits, 4);
          }
        }
        tail += wv * a[t].x[c];
      }
      y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]) + tail;
    }
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

RowsFn rows_fn_avx2(WType t) {
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

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

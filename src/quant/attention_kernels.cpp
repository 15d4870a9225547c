#include "quant/attention_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/cpu.h"
#include "core/error.h"
#include "quant/kernels.h"
#include "quant/vector_ops.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace g4::kernels {

namespace {

// One row at a time, through the dispatched row kernels of vector_ops (AVX-512 where the CPU has it) or,
// with Portable, through their portable versions. Serves Q8_0 rows, CPUs without AVX-512, and tests.
template <bool Portable>
float dot_row(WType type, const float* q, const uint8_t* row, int64_t d) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
  switch (type) {
    case WType::F32: {
      const float* f = reinterpret_cast<const float*>(row);
      return Portable ? dot_f32(q, f, d) : vec_dot(q, f, d);
    }
    case WType::F16: return Portable ? portable::dot_f16(q, h, d) : vec_dot_f16(q, h, d);
    case WType::BF16: return Portable ? portable::dot_bf16(q, h, d) : vec_dot_bf16(q, h, d);
    case WType::Q8_0: return Portable ? portable::dot_q8_0(q, row, d) : vec_dot_q8_0(q, row, d);
    case WType::Q4_0: return Portable ? portable::dot_q4_0(q, row, d) : vec_dot_q4_0(q, row, d);
    default: throw Error(std::string("attention over ") + wtype_info(type).name + " rows is not supported");
  }
}

template <bool Portable>
void axpy_row(WType type, float a, const uint8_t* row, float* y, int64_t d) {
  const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
  switch (type) {
    case WType::F32: {
      const float* x = reinterpret_cast<const float*>(row);
      if constexpr (Portable) {
        for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
      } else {
        vec_axpy(a, x, y, d);
      }
      return;
    }
    case WType::F16: return Portable ? portable::axpy_f16(a, h, y, d) : vec_axpy_f16(a, h, y, d);
    case WType::BF16: return Portable ? portable::axpy_bf16(a, h, y, d) : vec_axpy_bf16(a, h, y, d);
    case WType::Q8_0: return Portable ? portable::axpy_q8_0(a, row, y, d) : vec_axpy_q8_0(a, row, y, d);
    case WType::Q4_0: return Portable ? portable::axpy_q4_0(a, row, y, d) : vec_axpy_q4_0(a, row, y, d);
    default: throw Error(std::string("attention over ") + wtype_info(type).name + " rows is not supported");
  }
}

template <bool Portable>
void scores_by_row(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                   float* scores) {
  for (int h = 0; h < nh; ++h)
    for (int64_t j = 0; j < n; ++j) scores[h * n + j] = dot_row<Portable>(type, q + h * d, rows[j], d);
}

template <bool Portable>
void values_by_row(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                   float* out) {
  std::fill(out, out + nh * d, 0.0f);
  for (int h = 0; h < nh; ++h)
    for (int64_t j = 0; j < n; ++j) axpy_row<Portable>(type, p[h * n + j], rows[j], out + h * d, d);
}

}  // namespace

namespace portable {

void attn_scores(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                 float* scores) {
  scores_by_row<true>(type, q, nh, d, rows, n, scores);
}

void attn_values(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  values_by_row<true>(type, p, nh, d, rows, n, out);
}

}  // namespace portable

namespace {

#define G4_AVX512_ATTN __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))

// 16 values of a row (masked), as f32.
template <WType T>
G4_AVX512_ATTN inline __m512 load16(const uint8_t* row, int64_t c, __mmask16 m) {
  if constexpr (T == WType::F32) return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + c);
  else if constexpr (T == WType::F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * c));
  else
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + 2 * c)), 16));
}

inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

// M heads at once: each key row is loaded and converted once for all M query heads.
template <WType T, int M>
G4_AVX512_ATTN void scores_avx512(const float* q, int64_t d, const uint8_t* const* rows, int64_t n, float* scores,
                                  int64_t ld) {
  for (int64_t j = 0; j < n; ++j) {
    __m512 acc[M];
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) acc[h] = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; c += 16) {
      const __mmask16 m = tail_mask(d - c);
      const __m512 kv = load16<T>(rows[j], c, m);
      #pragma GCC unroll 8
      for (int h = 0; h < M; ++h) acc[h] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + h * d + c), kv, acc[h]);
    }
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) scores[h * ld + j] = _mm512_reduce_add_ps(acc[h]);
  }
}

// M heads at once, 16 output values at a time held in registers across all keys.
template <WType T, int M>
G4_AVX512_ATTN void values_avx512(const float* p, int64_t ld, int64_t d, const uint8_t* const* rows, int64_t n,
                                  float* out) {
  for (int64_t c = 0; c < d; c += 16) {
    const __mmask16 m = tail_mask(d - c);
    __m512 acc[M];
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) acc[h] = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
      const __m512 vv = load16<T>(rows[j], c, m);
      #pragma GCC unroll 8
      for (int h = 0; h < M; ++h) acc[h] = _mm512_fmadd_ps(_mm512_set1_ps(p[h * ld + j]), vv, acc[h]);
    }
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) _mm512_mask_storeu_ps(out + h * d + c, m, acc[h]);
  }
}

template <WType T>
void scores_typed(const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* scores) {
  int h = 0;
  for (; h + 8 <= nh; h += 8) scores_avx512<T, 8>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h + 4 <= nh; h += 4) scores_avx512<T, 4>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h + 2 <= nh; h += 2) scores_avx512<T, 2>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h < nh; ++h) scores_avx512<T, 1>(q + h * d, d, rows, n, scores + h * n, n);
}

template <WType T>
void values_typed(const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  int h = 0;
  for (; h + 8 <= nh; h += 8) values_avx512<T, 8>(p + h * n, n, d, rows, n, out + h * d);
  for (; h + 4 <= nh; h += 4) values_avx512<T, 4>(p + h * n, n, d, rows, n, out + h * d);
  for (; h + 2 <= nh; h += 2) values_avx512<T, 2>(p + h * n, n, d, rows, n, out + h * d);
  for (; h < nh; ++h) values_avx512<T, 1>(p + h * n, n, d, rows, n, out + h * d);
}

bool fast_path(WType type) {
  static const bool avx512 = cpu_features().has_avx512_vnni_level();
  return avx512 && (type == WType::F32 || type == WType::F16 || type == WType::BF16);
}

}  // namespace

void attn_scores(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                 float* scores) {
  if (!fast_path(type)) return scores_by_row<false>(type, q, nh, d, rows, n, scores);
  switch (type) {
    case WType::F32: return scores_typed<WType::F32>(q, nh, d, rows, n, scores);
    case WType::F16: return scores_typed<WType::F16>(q, nh, d, rows, n, scores);
    default: return scores_typed<WType::BF16>(q, nh, d, rows, n, scores);
  }
}

void attn_values(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  if (!fast_path(type)) return values_by_row<false>(type, p, nh, d, rows, n, out);
  switch (type) {
    case WType::F32: return values_typed<WType::F32>(p, nh, d, rows, n, out);
    case WType::F16: return values_typed<WType::F16>(p, nh, d, rows, n, out);
    default: return values_typed<WType::BF16>(p, nh, d, rows, n, out);
  }
}

}  // namespace g4::kernels

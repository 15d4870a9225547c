#include "quant/attention_kernels.h"

// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads); the
// pragmas must precede the headers, whose lines the warnings point at.
#include "core/arch.h"
#if G4_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "quant/blocks.h"
#include "quant/kernels.h"
#include "quant/simd_math.h"
#include "quant/vector_ops.h"

namespace g4::kernels {

namespace {

// One row at a time, through the dispatched row kernels of vector_ops (AVX-512 where the CPU has it) or,
// with Portable, through their portable versions. Serves CPUs without AVX-512, and tests.
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

#if G4_X86
namespace {

#define G4_AVX512_ATTN G4_SIMD_AVX512

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
}

// Values [c, c + 32) of a row as two f32 vectors. Quantized rows: c is a multiple of 32, so the 32 values
// are exactly one block. Plain rows: masked past d.
template <WType T>
G4_AVX512_ATTN inline void load32(const uint8_t* row, int64_t c, int64_t d, __m512& lo, __m512& hi) {
  if constexpr (T == WType::Q8_0) {
    const blocks::Q8_0& b = reinterpret_cast<const blocks::Q8_0*>(row)[c / 32];
    const __m512 s = _mm512_cvtph_ps(_mm256_set1_epi16(short(b.d)));
    lo = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)))));
    hi = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 16)))));
  } else if constexpr (T == WType::Q4_0) {
    const blocks::Q4_0& b = reinterpret_cast<const blocks::Q4_0*>(row)[c / 32];
    const __m512 s = _mm512_cvtph_ps(_mm256_set1_epi16(short(b.d)));
    const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
    const __m512i eight = _mm512_set1_epi32(8);
    lo = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, _mm512_set1_epi32(15)), eight)));
    hi = _mm512_mul_ps(s, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight)));
  } else {
    const __mmask16 m0 = tail_mask(d - c), m1 = tail_mask(d - c - 16);
    if constexpr (T == WType::F32) {
      const float* f = reinterpret_cast<const float*>(row) + c;
      lo = _mm512_maskz_loadu_ps(m0, f);
      hi = _mm512_maskz_loadu_ps(m1, f + 16);
    } else {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(row) + c;
      const __m256i a = _mm256_maskz_loadu_epi16(m0, h), b = _mm256_maskz_loadu_epi16(m1, h + 16);
      if constexpr (T == WType::F16) {
        lo = _mm512_cvtph_ps(a);
        hi = _mm512_cvtph_ps(b);
      } else {
        lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(a), 16));
        hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
      }
    }
  }
}

// M heads at once: each key row is read and converted once for all M query heads. Full: d is a multiple
// of 32, so the query loads need no masks and fold into the multiply-adds.
// Asks for a whole row ahead of use: rows sit at arbitrary addresses (ring slots, KV heads interleaved),
// so the hardware's stream prefetcher cannot guess the next one, and at depth they come from DRAM.
inline void prefetch_row(const uint8_t* row, size_t bytes) {
  for (size_t b = 0; b < bytes; b += 64) _mm_prefetch(reinterpret_cast<const char*>(row + b), _MM_HINT_T0);
}

template <WType T, int M, bool Full>
G4_AVX512_ATTN void scores_avx512(const float* q, int64_t d, const uint8_t* const* rows, int64_t n, float* scores,
                                  int64_t ld) {
  constexpr int64_t kAhead = 4;  // rows
  const size_t row_bytes = wtype_row_bytes_unchecked(T, d);
  for (int64_t j = 0; j < std::min(n, kAhead); ++j) prefetch_row(rows[j], row_bytes);
  for (int64_t j = 0; j < n; ++j) {
    if (j + kAhead < n) prefetch_row(rows[j + kAhead], row_bytes);
    __m512 acc[M];
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) acc[h] = _mm512_setzero_ps();
    for (int64_t c = 0; c < d; c += 32) {
      __m512 k0, k1;
      load32<T>(rows[j], c, d, k0, k1);
      const __mmask16 m0 = Full ? __mmask16(0xffff) : tail_mask(d - c), m1 = Full ? __mmask16(0xffff) : tail_mask(d - c - 16);
      #pragma GCC unroll 8
      for (int h = 0; h < M; ++h) {
        const float* qh = q + h * d + c;
        acc[h] = _mm512_fmadd_ps(Full ? _mm512_loadu_ps(qh) : _mm512_maskz_loadu_ps(m0, qh), k0, acc[h]);
        acc[h] = _mm512_fmadd_ps(Full ? _mm512_loadu_ps(qh + 16) : _mm512_maskz_loadu_ps(m1, qh + 16), k1, acc[h]);
      }
    }
    #pragma GCC unroll 8
    for (int h = 0; h < M; ++h) scores[h * ld + j] = _mm512_reduce_add_ps(acc[h]);
  }
}

// M heads at once, 32 output values held in registers while a block of 64 key rows passes, block after
// block: the rows of a block (64 x a row's bytes) stay in L1/L2 while all their 32-value pieces are taken,
// so every byte of the cache is read from memory once. `pk` holds the probabilities key-major:
// pk[j * nh + h].
template <WType T, int M>
G4_AVX512_ATTN void values_avx512(const float* pk, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  constexpr int64_t kBlock = 64;
  const size_t row_bytes = wtype_row_bytes_unchecked(T, d);
  for (int h = 0; h < M; ++h) std::fill(out + h * d, out + (h + 1) * d, 0.0f);
  for (int64_t j = 0; j < std::min(n, kBlock); ++j) prefetch_row(rows[j], row_bytes);
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t j1 = std::min(n, j0 + kBlock);
    for (int64_t j = j1; j < std::min(n, j1 + kBlock); ++j) prefetch_row(rows[j], row_bytes);  // the next block
    for (int64_t c = 0; c < d; c += 32) {
      const __mmask16 m0 = tail_mask(d - c), m1 = tail_mask(d - c - 16);
      __m512 acc[M][2];
      #pragma GCC unroll 8
      for (int h = 0; h < M; ++h) {
        acc[h][0] = _mm512_maskz_loadu_ps(m0, out + h * d + c);
        acc[h][1] = _mm512_maskz_loadu_ps(m1, out + h * d + c + 16);
      }
      for (int64_t j = j0; j < j1; ++j) {
        __m512 v0, v1;
        load32<T>(rows[j], c, d, v0, v1);
        const float* pj = pk + j * nh;
        #pragma GCC unroll 8
        for (int h = 0; h < M; ++h) {
          const __m512 b = _mm512_set1_ps(pj[h]);
          acc[h][0] = _mm512_fmadd_ps(b, v0, acc[h][0]);
          acc[h][1] = _mm512_fmadd_ps(b, v1, acc[h][1]);
        }
      }
      #pragma GCC unroll 8
      for (int h = 0; h < M; ++h) {
        _mm512_mask_storeu_ps(out + h * d + c, m0, acc[h][0]);
        _mm512_mask_storeu_ps(out + h * d + c + 16, m1, acc[h][1]);
      }
    }
  }
}

template <WType T, bool Full>
void scores_heads(const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* scores) {
  int h = 0;
  for (; h + 8 <= nh; h += 8) scores_avx512<T, 8, Full>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h + 4 <= nh; h += 4) scores_avx512<T, 4, Full>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h + 2 <= nh; h += 2) scores_avx512<T, 2, Full>(q + h * d, d, rows, n, scores + h * n, n);
  for (; h < nh; ++h) scores_avx512<T, 1, Full>(q + h * d, d, rows, n, scores + h * n, n);
}

template <WType T>
void scores_typed(const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* scores) {
  if (d % 32 == 0) scores_heads<T, true>(q, nh, d, rows, n, scores);
  else scores_heads<T, false>(q, nh, d, rows, n, scores);
}

template <WType T>
void values_typed(const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  static thread_local std::vector<float> pk;
  pk.resize(size_t(n * nh));
  for (int h = 0; h < nh; ++h)
    for (int64_t j = 0; j < n; ++j) pk[size_t(j * nh + h)] = p[h * n + j];
  int h = 0;
  for (; h + 8 <= nh; h += 8) values_avx512<T, 8>(pk.data() + h, nh, d, rows, n, out + h * d);
  for (; h + 4 <= nh; h += 4) values_avx512<T, 4>(pk.data() + h, nh, d, rows, n, out + h * d);
  for (; h + 2 <= nh; h += 2) values_avx512<T, 2>(pk.data() + h, nh, d, rows, n, out + h * d);
  for (; h < nh; ++h) values_avx512<T, 1>(pk.data() + h, nh, d, rows, n, out + h * d);
}

bool fast_path(WType type) {
  static const bool avx512 = cpu_features().has_avx512_vnni_level();
  return avx512 && (type == WType::F32 || type == WType::F16 || type == WType::BF16 || type == WType::Q8_0 ||
                    type == WType::Q4_0);
}

}  // namespace
#else
namespace {
bool fast_path(WType) { return false; }  // the AVX-512 kernels are x86-64 only
}  // namespace
#endif

void attn_scores(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                 float* scores) {
  if (!fast_path(type)) return scores_by_row<false>(type, q, nh, d, rows, n, scores);
#if G4_X86
  switch (type) {
    case WType::F32: return scores_typed<WType::F32>(q, nh, d, rows, n, scores);
    case WType::F16: return scores_typed<WType::F16>(q, nh, d, rows, n, scores);
    case WType::BF16: return scores_typed<WType::BF16>(q, nh, d, rows, n, scores);
    case WType::Q8_0: return scores_typed<WType::Q8_0>(q, nh, d, rows, n, scores);
    default: return scores_typed<WType::Q4_0>(q, nh, d, rows, n, scores);
  }
#endif
}

void attn_values(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out) {
  if (!fast_path(type)) return values_by_row<false>(type, p, nh, d, rows, n, out);
#if G4_X86
  switch (type) {
    case WType::F32: return values_typed<WType::F32>(p, nh, d, rows, n, out);
    case WType::F16: return values_typed<WType::F16>(p, nh, d, rows, n, out);
    case WType::BF16: return values_typed<WType::BF16>(p, nh, d, rows, n, out);
    case WType::Q8_0: return values_typed<WType::Q8_0>(p, nh, d, rows, n, out);
    default: return values_typed<WType::Q4_0>(p, nh, d, rows, n, out);
  }
#endif
}

}  // namespace g4::kernels

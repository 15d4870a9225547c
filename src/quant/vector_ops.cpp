#include "quant/vector_ops.h"

// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads); the
// pragmas must precede the headers, whose lines the warnings point at.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "core/arch.h"
#if G4_X86
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/kernels.h"
#include "quant/simd_math.h"

namespace g4::kernels {

// ---- portable typed-row versions (attention over a compact KV cache) ----

namespace portable {

namespace {
template <bool BF16>
float to_f32(uint16_t h) { return BF16 ? bf16_to_f32(h) : f16_to_f32(h); }

// Eight partial sums, as in dot_f32, so the compiler can vectorise the multiply-adds.
template <bool BF16>
float dot16(const float* a, const uint16_t* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += a[i + k] * to_f32<BF16>(b[i + k]);
  float tail = 0;
  for (; i < n; ++i) tail += a[i] * to_f32<BF16>(b[i]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

template <bool BF16>
void axpy16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * to_f32<BF16>(x[i]);
}

const blocks::Q8_0* q8_blocks(const uint8_t* p) { return reinterpret_cast<const blocks::Q8_0*>(p); }
}  // namespace

float dot_f16(const float* a, const uint16_t* b, int64_t n) { return dot16<false>(a, b, n); }
float dot_bf16(const float* a, const uint16_t* b, int64_t n) { return dot16<true>(a, b, n); }
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n) { axpy16<false>(a, x, y, n); }
void axpy_bf16(float a, const uint16_t* x, float* y, int64_t n) { axpy16<true>(a, x, y, n); }

float dot_q8_0(const float* a, const uint8_t* b, int64_t n) {
  const blocks::Q8_0* blk = q8_blocks(b);
  float sum = 0;
  for (int64_t i = 0; i < n / blocks::QK; ++i, a += blocks::QK) {
    float s = 0;
    for (int j = 0; j < blocks::QK; ++j) s += a[j] * float(blk[i].qs[j]);
    sum += f16_to_f32(blk[i].d) * s;
  }
  return sum;
}

void axpy_q8_0(float a, const uint8_t* x, float* y, int64_t n) {
  const blocks::Q8_0* blk = q8_blocks(x);
  for (int64_t i = 0; i < n / blocks::QK; ++i, y += blocks::QK) {
    const float ad = a * f16_to_f32(blk[i].d);
    for (int j = 0; j < blocks::QK; ++j) y[j] += ad * float(blk[i].qs[j]);
  }
}

float dot_q4_0(const float* a, const uint8_t* b, int64_t n) {
  const blocks::Q4_0* blk = reinterpret_cast<const blocks::Q4_0*>(b);
  float sum = 0;
  for (int64_t i = 0; i < n / blocks::QK; ++i, a += blocks::QK) {
    float s = 0;
    for (int j = 0; j < 16; ++j)
      s += a[j] * float(int(blk[i].qs[j] & 15) - 8) + a[j + 16] * float(int(blk[i].qs[j] >> 4) - 8);
    sum += f16_to_f32(blk[i].d) * s;
  }
  return sum;
}

void axpy_q4_0(float a, const uint8_t* x, float* y, int64_t n) {
  const blocks::Q4_0* blk = reinterpret_cast<const blocks::Q4_0*>(x);
  for (int64_t i = 0; i < n / blocks::QK; ++i, y += blocks::QK) {
    const float ad = a * f16_to_f32(blk[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] += ad * float(int(blk[i].qs[j] & 15) - 8);
      y[j + 16] += ad * float(int(blk[i].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace portable

namespace {

#if G4_X86
bool use_avx512() {
  static const bool yes = cpu_features().avx512f;
  return yes;
}
// Returns `call` (an AVX-512 version) from the enclosing function when the CPU has AVX-512.
#define G4_TRY_AVX512(call) \
  if (use_avx512()) return call
#else
#define G4_TRY_AVX512(call) static_cast<void>(0)
#endif

// ---- portable versions (the dot product is kernels::dot_f32) ----

float gelu_portable(float u) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * u * (1.0f + std::tanh(k * (u + 0.044715f * u * u * u)));
}

// ---- AVX-512 versions ----
#if G4_X86

#define G4_AVX512 G4_SIMD_AVX512

G4_AVX512 float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    __mmask16 m = __mmask16((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

G4_AVX512 void axpy_avx512(float a, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    __mmask16 m = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

G4_AVX512 inline __m512 exp_avx512(__m512 x) { return simd::exp_ps(x); }

G4_AVX512 void softmax_avx512(float* x, int64_t n) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
  float m = _mm512_reduce_max_ps(vmax);
  for (int64_t j = i; j < n; ++j) m = std::max(m, x[j]);
  const __m512 vm = _mm512_set1_ps(m);
  __m512 vsum = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    _mm512_storeu_ps(x + i, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (i < n) {
    __mmask16 mk = __mmask16((1u << (n - i)) - 1);
    __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + i), vm));
    e = _mm512_maskz_mov_ps(mk, e);
    _mm512_mask_storeu_ps(x + i, mk, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  if (i < n) {
    __mmask16 mk = __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), inv));
  }
}

// gelu_tanh(u) = 0.5 u (1 + tanh(z)) = u * (1 - 1 / (1 + e^{2z})),  z = sqrt(2/pi) (u + 0.044715 u^3)
G4_AVX512 __m512 gelu_avx512(__m512 u) {
  const __m512 u3 = _mm512_mul_ps(_mm512_mul_ps(u, u), u);
  __m512 z2 = _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.7978845608028654f), _mm512_fmadd_ps(u3, _mm512_set1_ps(0.044715f), u));
  z2 = _mm512_min_ps(_mm512_max_ps(z2, _mm512_set1_ps(-30.0f)), _mm512_set1_ps(30.0f));
  const __m512 e = exp_avx512(z2);
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_mul_ps(u, _mm512_sub_ps(one, _mm512_div_ps(one, _mm512_add_ps(one, e))));
}

G4_AVX512 void gelu_mul_avx512(float* g, const float* u, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 y = gelu_avx512(_mm512_loadu_ps(g + i));
    if (u) y = _mm512_mul_ps(y, _mm512_loadu_ps(u + i));
    _mm512_storeu_ps(g + i, y);
  }
  for (; i < n; ++i) g[i] = gelu_portable(g[i]) * (u ? u[i] : 1.0f);
}

// cap * tanh(x / cap) (simd::softcap_ps).
G4_AVX512 void softcap_avx512(float* x, float cap, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, simd::softcap_ps(_mm512_maskz_loadu_ps(m, x + i), cap));
  }
}

// Typed rows: 16 values per step; f16 through the AVX-512F vcvtph2ps, bf16 by widening to the top
// half of an f32; tails shorter than 16 (head dims are multiples of 16 in practice) go scalar.
template <bool BF16>
G4_AVX512 __m512 load16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}

template <bool BF16>
G4_AVX512 float dot16_avx512(const float* a, const uint16_t* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16<BF16>(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), load16<BF16>(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16<BF16>(b + i), s0);
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  return i < n ? s + portable::dot16<BF16>(a + i, b + i, n - i) : s;
}

template <bool BF16>
G4_AVX512 void axpy16_avx512(float a, const uint16_t* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, load16<BF16>(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) portable::axpy16<BF16>(a, x + i, y + i, n - i);
}

// The block's fp16 scale broadcast to all lanes, and 16 of its int8 values as f32.
G4_AVX512 __m512 q8_scale(const blocks::Q8_0& b) { return _mm512_cvtph_ps(_mm256_set1_epi16(short(b.d))); }
G4_AVX512 __m512 q8_values(const int8_t* q) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))));
}

G4_AVX512 float dot_q8_0_avx512(const float* a, const uint8_t* b, int64_t n) {
  const blocks::Q8_0* blk = portable::q8_blocks(b);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / blocks::QK; ++i, a += blocks::QK) {
    const __m512 d = q8_scale(blk[i]);
    s0 = _mm512_fmadd_ps(_mm512_mul_ps(d, q8_values(blk[i].qs)), _mm512_loadu_ps(a), s0);
    s1 = _mm512_fmadd_ps(_mm512_mul_ps(d, q8_values(blk[i].qs + 16)), _mm512_loadu_ps(a + 16), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

G4_AVX512 void axpy_q8_0_avx512(float a, const uint8_t* x, float* y, int64_t n) {
  const blocks::Q8_0* blk = portable::q8_blocks(x);
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n / blocks::QK; ++i, y += blocks::QK) {
    const __m512 ad = _mm512_mul_ps(va, q8_scale(blk[i]));
    _mm512_storeu_ps(y, _mm512_fmadd_ps(ad, q8_values(blk[i].qs), _mm512_loadu_ps(y)));
    _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(ad, q8_values(blk[i].qs + 16), _mm512_loadu_ps(y + 16)));
  }
}

// 32 values of a Q4_0 block as two f32 vectors (low nibbles: elements 0..15, high: 16..31), unscaled.
G4_AVX512 void q4_values(const blocks::Q4_0& b, __m512& lo, __m512& hi) {
  const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs)));
  const __m512i eight = _mm512_set1_epi32(8);
  lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, _mm512_set1_epi32(15)), eight));
  hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight));
}

G4_AVX512 float dot_q4_0_avx512(const float* a, const uint8_t* b, int64_t n) {
  const blocks::Q4_0* blk = reinterpret_cast<const blocks::Q4_0*>(b);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / blocks::QK; ++i, a += blocks::QK) {
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(short(blk[i].d)));
    __m512 lo, hi;
    q4_values(blk[i], lo, hi);
    s0 = _mm512_fmadd_ps(_mm512_mul_ps(d, lo), _mm512_loadu_ps(a), s0);
    s1 = _mm512_fmadd_ps(_mm512_mul_ps(d, hi), _mm512_loadu_ps(a + 16), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

G4_AVX512 void axpy_q4_0_avx512(float a, const uint8_t* x, float* y, int64_t n) {
  const blocks::Q4_0* blk = reinterpret_cast<const blocks::Q4_0*>(x);
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n / blocks::QK; ++i, y += blocks::QK) {
    const __m512 ad = _mm512_mul_ps(va, _mm512_cvtph_ps(_mm256_set1_epi16(short(blk[i].d))));
    __m512 lo, hi;
    q4_values(blk[i], lo, hi);
    _mm512_storeu_ps(y, _mm512_fmadd_ps(ad, lo, _mm512_loadu_ps(y)));
    _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(ad, hi, _mm512_loadu_ps(y + 16)));
  }
}

inline __mmask16 tail16(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

G4_AVX512 float max_avx512(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail16(n - i), x + i));
  return _mm512_reduce_max_ps(m);
}

G4_AVX512 float exp_sum_avx512(float* x, float m, int64_t n) {
  const __m512 vm = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail16(n - i);
    const __m512 e = _mm512_maskz_mov_ps(k, exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm)));
    _mm512_mask_storeu_ps(x + i, k, e);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

G4_AVX512 void scale_avx512(float* x, float s, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail16(n - i);
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), vs));
  }
}

#endif  // G4_X86

}  // namespace

float vec_max(const float* x, int64_t n) {
  G4_TRY_AVX512(max_avx512(x, n));
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

float vec_exp_sum(float* x, float m, int64_t n) {
  G4_TRY_AVX512(exp_sum_avx512(x, m, n));
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - m));
  return float(sum);
}

void vec_scale(float* x, float s, int64_t n) {
  G4_TRY_AVX512(scale_avx512(x, s, n));
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

float vec_dot_q4_0(const float* a, const uint8_t* b, int64_t n) {
  G4_TRY_AVX512(dot_q4_0_avx512(a, b, n));
  return portable::dot_q4_0(a, b, n);
}
void vec_axpy_q4_0(float a, const uint8_t* x, float* y, int64_t n) {
  G4_TRY_AVX512(axpy_q4_0_avx512(a, x, y, n));
  portable::axpy_q4_0(a, x, y, n);
}

float vec_dot(const float* a, const float* b, int64_t n) {
  G4_TRY_AVX512(dot_avx512(a, b, n));
  return dot_f32(a, b, n);
}

void vec_axpy(float a, const float* x, float* y, int64_t n) {
  G4_TRY_AVX512(axpy_avx512(a, x, y, n));
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void vec_softmax(float* x, int64_t n) {
  if (n <= 0) return;
  G4_TRY_AVX512(softmax_avx512(x, n));
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void vec_softcap(float* x, float cap, int64_t n) {
  G4_TRY_AVX512(softcap_avx512(x, cap, n));
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void vec_gelu_mul(float* g, const float* u, int64_t n) {
  G4_TRY_AVX512(gelu_mul_avx512(g, u, n));
  for (int64_t i = 0; i < n; ++i) g[i] = gelu_portable(g[i]) * (u ? u[i] : 1.0f);
}

float vec_dot_f16(const float* a, const uint16_t* b, int64_t n) {
  G4_TRY_AVX512(dot16_avx512<false>(a, b, n));
  return portable::dot_f16(a, b, n);
}
float vec_dot_bf16(const float* a, const uint16_t* b, int64_t n) {
  G4_TRY_AVX512(dot16_avx512<true>(a, b, n));
  return portable::dot_bf16(a, b, n);
}
float vec_dot_q8_0(const float* a, const uint8_t* b, int64_t n) {
  G4_TRY_AVX512(dot_q8_0_avx512(a, b, n));
  return portable::dot_q8_0(a, b, n);
}
void vec_axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  G4_TRY_AVX512(axpy16_avx512<false>(a, x, y, n));
  portable::axpy_f16(a, x, y, n);
}
void vec_axpy_bf16(float a, const uint16_t* x, float* y, int64_t n) {
  G4_TRY_AVX512(axpy16_avx512<true>(a, x, y, n));
  portable::axpy_bf16(a, x, y, n);
}
void vec_axpy_q8_0(float a, const uint8_t* x, float* y, int64_t n) {
  G4_TRY_AVX512(axpy_q8_0_avx512(a, x, y, n));
  portable::axpy_q8_0(a, x, y, n);
}

}  // namespace g4::kernels

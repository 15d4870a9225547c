#include "quant/vector_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/kernels.h"

// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

}  // namespace portable

namespace {

bool use_avx512() {
  static const bool yes = cpu_features().avx512f;
  return yes;
}

// ---- portable versions (the dot product is kernels::dot_f32) ----

float gelu_portable(float u) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * u * (1.0f + std::tanh(k * (u + 0.044715f * u * u * u)));
}

// ---- AVX-512 versions ----

#define G4_AVX512 __attribute__((target("avx512f")))

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

// e^x for x in [-87, 88]: 2^n * e^r with |r| <= ln2/2 and a degree-6 polynomial (rel. error ~2e-7).
G4_AVX512 __m512 exp_avx512(__m512 x) {
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

// cap * tanh(x / cap), with tanh(z) = 1 - 2 / (1 + e^{2z}) (|2z| clamped to 30, where tanh is 1 in f32).
G4_AVX512 void softcap_avx512(float* x, float cap, int64_t n) {
  const __m512 inv2 = _mm512_set1_ps(2.0f / cap), vcap = _mm512_set1_ps(cap), one = _mm512_set1_ps(1.0f);
  const __m512 two = _mm512_set1_ps(2.0f), lo = _mm512_set1_ps(-30.0f), hi = _mm512_set1_ps(30.0f);
  int64_t i = 0;
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 z2 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv2), lo), hi);
    const __m512 t = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(one, exp_avx512(z2))));
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(vcap, t));
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

}  // namespace

float vec_dot(const float* a, const float* b, int64_t n) {
  return use_avx512() ? dot_avx512(a, b, n) : dot_f32(a, b, n);
}

void vec_axpy(float a, const float* x, float* y, int64_t n) {
  if (use_avx512()) return axpy_avx512(a, x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void vec_softmax(float* x, int64_t n) {
  if (n <= 0) return;
  if (use_avx512()) return softmax_avx512(x, n);
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
  if (use_avx512()) return softcap_avx512(x, cap, n);
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

void vec_gelu_mul(float* g, const float* u, int64_t n) {
  if (use_avx512()) return gelu_mul_avx512(g, u, n);
  for (int64_t i = 0; i < n; ++i) g[i] = gelu_portable(g[i]) * (u ? u[i] : 1.0f);
}

float vec_dot_f16(const float* a, const uint16_t* b, int64_t n) {
  return use_avx512() ? dot16_avx512<false>(a, b, n) : portable::dot_f16(a, b, n);
}
float vec_dot_bf16(const float* a, const uint16_t* b, int64_t n) {
  return use_avx512() ? dot16_avx512<true>(a, b, n) : portable::dot_bf16(a, b, n);
}
float vec_dot_q8_0(const float* a, const uint8_t* b, int64_t n) {
  return use_avx512() ? dot_q8_0_avx512(a, b, n) : portable::dot_q8_0(a, b, n);
}
void vec_axpy_f16(float a, const uint16_t* x, float* y, int64_t n) {
  if (use_avx512()) return axpy16_avx512<false>(a, x, y, n);
  portable::axpy_f16(a, x, y, n);
}
void vec_axpy_bf16(float a, const uint16_t* x, float* y, int64_t n) {
  if (use_avx512()) return axpy16_avx512<true>(a, x, y, n);
  portable::axpy_bf16(a, x, y, n);
}
void vec_axpy_q8_0(float a, const uint8_t* x, float* y, int64_t n) {
  if (use_avx512()) return axpy_q8_0_avx512(a, x, y, n);
  portable::axpy_q8_0(a, x, y, n);
}

}  // namespace g4::kernels

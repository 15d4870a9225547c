#include "quant/vector_ops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "quant/kernels.h"

// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace g4::kernels {

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

void vec_gelu_mul(float* g, const float* u, int64_t n) {
  if (use_avx512()) return gelu_mul_avx512(g, u, n);
  for (int64_t i = 0; i < n; ++i) g[i] = gelu_portable(g[i]) * (u ? u[i] : 1.0f);
}

}  // namespace g4::kernels

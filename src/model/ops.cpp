#include "model/ops.h"

#include <algorithm>
#include <cmath>

#include "quant/vector_ops.h"

namespace g4::ops {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const float inv = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv;
  }
}

void rms_norm_rows(float* x, const float* w, int64_t rows, int64_t n, float eps) {
  for (int64_t r = 0; r < rows; ++r) rms_norm(x + r * n, w, n, eps, x + r * n);
}

void gelu_mul(float* a, const float* b, int64_t n) { kernels::vec_gelu_mul(a, b, n); }

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void scale(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

void softcap(float* y, float cap, int64_t n) { kernels::vec_softcap(y, cap, n); }

void softmax(float* x, int64_t n) { kernels::vec_softmax(x, n); }

}  // namespace g4::ops

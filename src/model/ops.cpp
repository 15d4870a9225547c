#include "model/ops.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "quant/vector_ops.h"

namespace g4::ops {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  // Eight independent double partial sums: the compiler can vectorise them (a single running sum
  // would serialise on the add latency), and double keeps the order of additions immaterial.
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) part[k] += double(x[i + k]) * double(x[i + k]);
  double ss = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const float inv = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv;
  }
}

void rms_norm_rows(float* x, const float* w, int64_t rows, int64_t n, float eps) { rms_norm_rows(x, w, rows, n, eps, x); }

void rms_norm_rows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y) {
  auto run = [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; ++r) rms_norm(x + int64_t(r) * n, w, n, eps, y + int64_t(r) * n);
  };
  // Prefill normalises hundreds of rows: share them out; a decode step's few rows are not worth a dispatch.
  if (rows * n >= (int64_t(1) << 16)) ThreadPool::global().parallel_for(size_t(rows), run, 8);
  else run(0, size_t(rows));
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

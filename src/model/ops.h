#pragma once
// Element-wise and row-wise operations of the decoder, in f32.
#include <cstdint>
#include <vector>

namespace g4::ops {

// y = x * (mean(x^2) + eps)^-0.5 * w   (w == nullptr: no weight). In place allowed (y == x).
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y);
// rms_norm over each of `rows` consecutive rows of length n (in place, or from x into y), with the
// rows shared among the global thread pool's threads when there are many.
void rms_norm_rows(float* x, const float* w, int64_t rows, int64_t n, float eps);
void rms_norm_rows(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y);

// a[i] = gelu_tanh(a[i]) * b[i]   (b == nullptr: a[i] = gelu_tanh(a[i]))
void gelu_mul(float* a, const float* b, int64_t n);

void add(float* y, const float* x, int64_t n);
void scale(float* y, float s, int64_t n);
void softcap(float* y, float cap, int64_t n);
// In-place softmax over n values.
void softmax(float* x, int64_t n);

}  // namespace g4::ops

#pragma once
// Vector kernels for the parts of a forward pass that are not matrix products: attention dot
// products and accumulations, softmax, the gated GELU. Dispatched at run time (AVX-512 when the CPU
// has it, else portable code). Results agree with the portable versions to float rounding.
#include <cstdint>

namespace g4::kernels {

float vec_dot(const float* a, const float* b, int64_t n);
// y += a * x
void vec_axpy(float a, const float* x, float* y, int64_t n);
// In-place softmax over n values (max-subtracted, exp, normalised).
void vec_softmax(float* x, int64_t n);
// g[i] = gelu_tanh(g[i]) * u[i]   (u == nullptr: g[i] = gelu_tanh(g[i]))
void vec_gelu_mul(float* g, const float* u, int64_t n);

}  // namespace g4::kernels

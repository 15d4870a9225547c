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
// x[i] = cap * tanh(x[i] / cap)  (logit soft-capping)
void vec_softcap(float* x, float cap, int64_t n);
// g[i] = gelu_tanh(g[i]) * u[i]   (u == nullptr: g[i] = gelu_tanh(g[i]))
void vec_gelu_mul(float* g, const float* u, int64_t n);

// Largest of n values (-inf for n == 0).
float vec_max(const float* x, int64_t n);
// x[i] = e^(x[i] - m); returns the sum of the new values (an unnormalised softmax against max m).
float vec_exp_sum(float* x, float m, int64_t n);
// x[i] *= s
void vec_scale(float* x, float s, int64_t n);

// Attention over a KV cache stored in a compact type: an f32 vector against one row of n values held
// as f16, bf16, Q8_0 or Q4_0 (ggml's blocks; n must be a multiple of 32 for those). Rows
// are converted on the fly in registers, never into a temporary f32 buffer.
float vec_dot_f16(const float* a, const uint16_t* b, int64_t n);
float vec_dot_bf16(const float* a, const uint16_t* b, int64_t n);
float vec_dot_q8_0(const float* a, const uint8_t* b, int64_t n);
// y += a * x
void vec_axpy_f16(float a, const uint16_t* x, float* y, int64_t n);
void vec_axpy_bf16(float a, const uint16_t* x, float* y, int64_t n);
void vec_axpy_q8_0(float a, const uint8_t* x, float* y, int64_t n);
// The same for Q4_0 rows (ggml's block_q4_0, 18 bytes per 32 values; n a multiple of 32).
float vec_dot_q4_0(const float* a, const uint8_t* b, int64_t n);
void vec_axpy_q4_0(float a, const uint8_t* x, float* y, int64_t n);

// The portable code behind the typed functions above, callable directly so tests can check it on
// CPUs where the dispatcher picks AVX-512.
namespace portable {
float dot_f16(const float* a, const uint16_t* b, int64_t n);
float dot_bf16(const float* a, const uint16_t* b, int64_t n);
float dot_q8_0(const float* a, const uint8_t* b, int64_t n);
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n);
void axpy_bf16(float a, const uint16_t* x, float* y, int64_t n);
void axpy_q8_0(float a, const uint8_t* x, float* y, int64_t n);
float dot_q4_0(const float* a, const uint8_t* b, int64_t n);
void axpy_q4_0(float a, const uint8_t* x, float* y, int64_t n);
}  // namespace portable

}  // namespace g4::kernels

#pragma once
// Matrix kernels behind quant/weight.h. The model never includes this header.
#include <cstddef>
#include <cstdint>

#include "quant/weight.h"

namespace g4 {

// Dequantizes `n` elements (a whole number of blocks) of block-format type `t` from `src` into `out`.
void dequantize_blocks(WType t, const uint8_t* src, float* out, int64_t n);

namespace kernels {

// Portable reference: y = x W^T computed in f32 with f32 accumulation, rows split across threads.
void matmul_f32_accum(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool);

// Dot product of two f32 vectors.
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace kernels
}  // namespace g4

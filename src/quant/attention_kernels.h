#pragma once
// Attention inner loops for a group of query heads that share one key/value head (grouped-query
// attention): every cached row is read once per group instead of once per query head, and converted
// from its storage type in registers. The rows are given as pointers, so the caller's cache layout
// (rings, pages) stays its own business. Dispatched at run time: AVX-512 for every row type, else one row
// at a time through vector_ops' row kernels (CPUs without AVX-512).
#include <cstdint>

#include "quant/weight.h"

namespace g4::kernels {

// scores[h * n + j] = dot(q + h * d, row_j)  for h < nh, j < n. Rows hold d values of `type`
// (F32, F16, BF16, or Q8_0 / Q4_0 with d a multiple of 32).
void attn_scores(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                 float* scores);

// out[h * d + c] = sum_j p[h * n + j] * row_j[c]  for h < nh, c < d (out is overwritten).
void attn_values(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out);

namespace portable {
void attn_scores(WType type, const float* q, int nh, int64_t d, const uint8_t* const* rows, int64_t n,
                 float* scores);
void attn_values(WType type, const float* p, int nh, int64_t d, const uint8_t* const* rows, int64_t n, float* out);
}  // namespace portable

}  // namespace g4::kernels

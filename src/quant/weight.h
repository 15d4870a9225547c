#pragma once
// Weight: a read-only 2-D matrix [rows, cols] (PyTorch layout: rows = outputs, cols = inputs) stored in
// any supported element or block format, usually pointing into a memory-mapped file.
//
// Model code reaches weights only through this header: matmul() for projections, dequantize_row() for
// embedding lookups. A new storage format (a GGUF block type, a repacked layout) is added here and in
// the kernels, never in the model.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/ggml_types.h"

namespace g4 {

class ThreadPool;

// Values follow ggml's type ids so GGUF files map directly; every type core/ggml_types.h marks computable.
enum class WType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  IQ1_M = 29,
  BF16 = 30,
  MXFP4 = 39,
};

// The row of core/ggml_types.h's table (name, block_elems, block_bytes).
using WTypeInfo = GgmlTypeInfo;

// Throws g4::Error for an unsupported type id.
const WTypeInfo& wtype_info(WType t);
bool wtype_supported(uint32_t ggml_type);
// Bytes one row of `cols` elements occupies; throws when cols is not a multiple of the block size.
size_t wtype_row_bytes(WType t, int64_t cols);

// The same without validation, inline: the kernels call it per row (a bound weight's shape was checked).
// It repeats wtype_info's block sizes as constants on purpose: looking them up turned the divisions into
// run-time ones and cost a quarter of the decode speed. A test holds the two in agreement.
inline size_t wtype_row_bytes_unchecked(WType t, int64_t cols) {
  switch (t) {
    case WType::F32: return size_t(cols) * 4;
    case WType::F16:
    case WType::BF16: return size_t(cols) * 2;
    case WType::Q8_0: return size_t(cols / 32) * 34;
    case WType::Q4_0: return size_t(cols / 32) * 18;
    case WType::Q4_K: return size_t(cols / 256) * 144;
    case WType::Q5_K: return size_t(cols / 256) * 176;
    case WType::Q6_K: return size_t(cols / 256) * 210;
    case WType::Q4_1: return size_t(cols / 32) * 20;
    case WType::Q5_0: return size_t(cols / 32) * 22;
    case WType::Q5_1: return size_t(cols / 32) * 24;
    case WType::IQ4_NL: return size_t(cols / 32) * 18;
    case WType::MXFP4: return size_t(cols / 32) * 17;
    case WType::Q2_K: return size_t(cols / 256) * 84;
    case WType::Q3_K: return size_t(cols / 256) * 110;
    case WType::IQ2_XXS: return size_t(cols / 256) * 66;
    case WType::IQ2_XS: return size_t(cols / 256) * 74;
    case WType::IQ2_S: return size_t(cols / 256) * 82;
    case WType::IQ3_XXS: return size_t(cols / 256) * 98;
    case WType::IQ3_S: return size_t(cols / 256) * 110;
    case WType::IQ1_S: return size_t(cols / 256) * 50;
    case WType::IQ1_M: return size_t(cols / 256) * 56;
    case WType::IQ4_XS: return size_t(cols / 256) * 136;
  }
  return 0;
}

struct Weight {
  const uint8_t* data = nullptr;
  WType type = WType::F32;
  int64_t rows = 0;
  int64_t cols = 0;

  size_t row_bytes() const { return wtype_row_bytes_unchecked(type, cols); }
  size_t bytes() const { return row_bytes() * size_t(rows); }
  const uint8_t* row_ptr(int64_t r) const { return data + row_bytes() * size_t(r); }
  // Rows [first, first+count) as a weight of its own (an expert slice of a stacked tensor).
  Weight slice_rows(int64_t first, int64_t count) const;
  bool empty() const { return data == nullptr; }
};

// y[t, r] = sum_c x[t, c] * W[r, c]  for t < n_tokens;  x: [n_tokens, cols], y: [n_tokens, rows], f32.
void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool);

// One output of matmul_many: y = x W^T with y laid out [n_tokens, w->rows].
struct MatmulOut {
  const Weight* w;
  float* y;
};
// Several weights applied to the same activations x (q/k/v, gate/up): when they share type and width,
// x is prepared once and all their rows are shared out among the threads in one dispatch.
void matmul_many(std::initializer_list<MatmulOut> outs, const float* x, size_t n_tokens, ThreadPool& pool);

// Precision of matmul for float weights (F32, F16, BF16). Exact, what the overloads above use, multiplies
// in f32. Fast may round the activations to bf16 (round to nearest even) and multiply in the CPU's bf16
// units with f32 accumulation (AMX-BF16, else AVX-512 BF16), for calls with enough tokens to fill them
// (8 or more); BF16 weights stay exact, F16 and F32 weights are rounded to bf16 too. Each output then
// errs by at most 2^-8 * sum_k |x_k w_k| (BF16 weights; about 2^-7 for F16/F32) beyond the f32 result,
// values below 2^-126 counting as zero. Where the CPU has no bf16 instructions, and for fewer tokens, Fast is
// Exact. Quantized weights ignore it (their kernels round activations to 8 bits either way).
enum class MatmulMath { Exact, Fast };
void matmul(const Weight& w, const float* x, size_t n_tokens, float* y, ThreadPool& pool, MatmulMath math);
void matmul_many(std::initializer_list<MatmulOut> outs, const float* x, size_t n_tokens, ThreadPool& pool,
                 MatmulMath math);

// Writes row r of W as f32 (cols values).
void dequantize_row(const Weight& w, int64_t r, float* out);

// Encodes n values (a whole number of blocks) as type t, exactly as ggml's reference quantizers
// (quantize_row_*_ref) do; out receives wtype_row_bytes(t, n) bytes. Throws g4::Error on a partial block.
void quantize_row(WType t, const float* x, uint8_t* out, int64_t n);

}  // namespace g4

#pragma once
// Matrix-vector kernels of the types the original kernels do not cover (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// IQ4_NL, IQ4_XS, MXFP4 and the grid i-quants IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M),
// internal to src/quant. Each 32-value block decodes to 32 int8 weights
// with a scale (and a min) per 16 values:  w_i = sc[i / 16] * q_i - mn[i / 16]. The products run on
// activations quantized to 8 bits per 32 values (the natural layout of ActBuffer), as the other kernels.
#include <cstdint>

#include "quant/kernels_impl.h"

namespace g4::kernels::impl {

// The types below have these kernels (decode: up to 4 tokens per pass; prefill takes the integer GEMMs on
// AVX-512 machines, which repack blocks with the SIMD decoders of kernels_more_simd.h, and the f32 tiles
// elsewhere).
bool has_more_kernels(WType t);

// One decoded 32-value block.
struct Block32 {
  int8_t q[32];
  float sc[2];  // per 16 values
  float mn[2];
};
// Decodes block b (32 values) of a row of type t (the scalar reference, kernels_more_ref.cpp).
void decode_block32(WType t, const uint8_t* row, int64_t b, Block32& out);

RowsFn rows_fn_more_scalar(WType t);  // the reference
// AVX-512 VNNI kernels of the 32-value nibble types (Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4; kernels_nib_avx512.cpp),
// on activations in Q4_0's AVX-512 layout; nullptr for other types. rows_fn_more_vnni returns them.
RowsFn rows_fn_nib_avx512(WType t);
// Whether ActBuffer's AVX-512 layout of type t is Q4_0's (four blocks' low halves, then their high halves).
bool nibble_layout(WType t);
RowsFn rows_fn_more_avx2(WType t);    // AVX2 (vpmaddubsw)
RowsFn rows_fn_more_vnni(WType t);    // AVX-512 VNNI: rows_fn_nib_avx512, else 512-bit super-block kernels

}  // namespace g4::kernels::impl

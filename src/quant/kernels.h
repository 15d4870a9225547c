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

// Instruction-set levels of the fast paths. matmul() uses the best one the CPU has, or the one force_isa()
// names (tests and benchmarks force each path explicitly). x86-64 has Scalar < Avx2 < Avx512 < Amx, ARM64
// Scalar < Neon < NeonDot.
//   Scalar: matmul_f32_accum (dequantize rows, f32 dot products).
//   Avx2:   AVX2+FMA+F16C; activations quantized to 8 bits per 32 values for quantized weights.
//   Avx512: AVX-512 F/BW/VL/DQ + VNNI matrix-vector kernels; for more tokens, the VNNI integer GEMM
//           for quantized weights and an f32 FMA GEMM for float weights.
//   Amx:    Avx512, with the AMX-INT8 integer GEMM for many tokens. Used when the CPU has AMX-TILE/INT8
//           and the OS grants tile permission, unless G4_NO_AMX=1 is set (A/B runs).
//   Neon:   ARM64 Advanced SIMD matrix-vector kernels for Q8_0, Q4_0 and the K-quants (widening
//           multiplies); the other types take the portable path.
//   NeonDot: Neon with the dot-product instructions (SDOT), where the CPU has them.
// Every quantized path quantizes activations to 8 bits per 32 values as matmul_q8_scalar does.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Amx = 3, Neon = 4, NeonDot = 5 };

const char* isa_name(Isa isa);
// The best level this CPU supports (Amx only when the OS granted tile permission and G4_NO_AMX is unset).
Isa best_isa();
// Caps the level used by matmul(); throws g4::Error when the CPU lacks `isa`. Process-wide.
void force_isa(Isa isa);
void clear_forced_isa();
Isa active_isa();
bool isa_supported(Isa isa);

// The kernel matmul() uses with the active level for n_tokens tokens of weight type t.
enum class MatmulPath {
  Scalar,        // matmul_f32_accum
  Rows,          // matrix-vector kernels, a few tokens per pass (8-bit activations for quantized weights;
                 // on a level without kernels for the type, the scalar ones of matmul_q8_scalar)
  FloatGemm,     // AVX-512 f32 GEMM (float weights)
  VnniInt8Gemm,  // AVX-512 VNNI integer GEMM (8-bit activations)
  AmxInt8Gemm,   // AMX-INT8 integer GEMM (8-bit activations)
  DequantTiles,  // rows dequantized to f32 tiles, then the f32 kernels (types without kernels of their own)
  AmxBf16Gemm,     // MatmulMath::Fast, float weights: AMX-BF16 GEMM (level Amx on a CPU with AMX-BF16)
  Avx512Bf16Gemm,  // MatmulMath::Fast, float weights: AVX-512 BF16 GEMM (a CPU with AVX-512 BF16 and no
                   // AMX-BF16, such as AMD Zen 4/5; forcing level Avx512 selects it on a CPU with AMX)
};
MatmulPath matmul_path(WType t, size_t n_tokens, MatmulMath math = MatmulMath::Exact);
const char* matmul_path_name(MatmulPath p);

// Weight panels (32 rows x up to 2048 columns) the AMX GEMM has multiplied in this process: tests use
// it as proof that the AMX path ran.
uint64_t amx_panels_done();

// Whether the quantized-activation kernels (and matmul_q8_scalar) handle quantized type t. The other
// quantized types (and the types of kernels_more.h beyond 4 tokens where no integer GEMM takes them) are
// multiplied as f32 tiles of dequantized rows (MatmulPath::DequantTiles), exact up to summation order.
bool quantizes_activations(WType t);

// Reference for the quantized-activation kernels (any ISA): activations quantized to int8 per 32 values
// exactly as the fast paths do, integer dot products per block, f32 scaling. Single-threaded.
void matmul_q8_scalar(const Weight& w, const float* x, size_t n_tokens, float* y);

}  // namespace kernels
}  // namespace g4

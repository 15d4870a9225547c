// The integer GEMMs (gemm_int8_avx512.cpp, gemm_int8_amx.cpp) for kernels_more.h's types: Q4_1, Q5_0,
// Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4 and the grid i-quants (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ1_S, IQ1_M).
//
// Each of these types decodes a 32-value block to 32 int8 codes with a scale (and a min) per 16 values
// (kernels_more_simd.h's decoders, the ones the matrix-vector kernels use). That is the panel layout's
// content already: the 16 rows' decoded blocks are transposed into the 8 code vectors and their scales
// written to the two f32 slots, as gemm_int8_kind says for the type:
//   Plain  (Q5_0, IQ4_NL, IQ4_XS, MXFP4, IQ3_S, IQ3_XXS, IQ2_XXS, IQ1_S): one scale per block; signed
//          codes, offset 128 for VNNI.
//   Mins   (Q4_1, Q5_1): scale and min; unsigned codes (0..31), which both GEMMs take as they are.
//   Halves (Q3_K, IQ2_XS, IQ2_S, IQ1_M): a scale per 16 values; signed codes, offset 128 for VNNI.
//   SplitMins (Q2_K): a scale and a min per 16 values, four numbers where the panel has room for two:
//          the 4-bit scales go into the codes (scale * code, 0..45; both GEMMs take them as they are), the
//          super-block's d into the first slot, and dmin with the two 4-bit mins packed into the second.
// The products are then exactly those of the matrix-vector kernels (and of matmul_q8_scalar): integer dot
// products per block (per half for Halves), scaled in f32.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"
#include "quant/kernels_impl.h"
#include "quant/kernels_more.h"

// The target options come after every header (see gemm_int8_avx512.cpp); the two headers below include
// nothing and define only internal functions, compiled with this target.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

#define G4_MORE_VNNI 1
#define G4_MORE_NS more_gemm
#define G4_MORE_DECODERS_ONLY
#include "quant/kernels_more_simd.h"
#include "quant/gemm_int8_transpose.h"

namespace g4::kernels::impl {

namespace {

using namespace more_gemm;

// Where row i of a 16 x 32-byte scratch block starts (transpose_16x8_at's offsets).
alignas(64) constexpr int32_t kRowAt[kInt8PanelLanes] = {0,   32,  64,  96,  128, 160, 192, 224,
                                                         256, 288, 320, 352, 384, 416, 448, 480};

// Blocks [b0, b0 + nb) of the 16 rows at rows + off[i] into the panel at dst (one group, consecutive blocks
// pstride apart). Flip: make signed codes unsigned (+128) for the VNNI GEMM.
template <class K, Int8Kind Kd>
void repack_more(const uint8_t* rows, const int32_t* off, bool flip, int64_t b0, int64_t nb, uint8_t* dst,
                 size_t pstride) {
  alignas(64) uint8_t q[kInt8PanelLanes][32];
  alignas(64) float s0[kInt8PanelLanes], s1[kInt8PanelLanes];
  const __m512i fl = _mm512_set1_epi8(char(flip ? 0x80 : 0));
  for (int64_t b = 0; b < nb; ++b, dst += pstride) {
    #pragma GCC unroll 4
    for (int i = 0; i < kInt8PanelLanes; ++i) {
      const Dec d = K::decode(rows + off[i], b0 + b);
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[i]), d.q);
      s0[i] = _mm256_cvtss_f32(d.sc);
      if constexpr (Kd == Int8Kind::Mins) s1[i] = _mm256_cvtss_f32(d.mn);
      if constexpr (Kd == Int8Kind::Halves) s1[i] = _mm_cvtss_f32(_mm256_extractf128_ps(d.sc, 1));
    }
    __m512i v[8];
    transpose_16x8_at(&q[0][0], kRowAt, v);
    for (int j = 0; j < 8; ++j) _mm512_store_si512(dst + 64 * j, _mm512_xor_si512(v[j], fl));
    _mm512_store_ps(dst + kInt8CodeBytes, _mm512_load_ps(s0));
    _mm512_store_ps(dst + kInt8CodeBytes + 64, Kd == Int8Kind::Plain ? _mm512_setzero_ps() : _mm512_load_ps(s1));
  }
}

// Q2_K (Int8Kind::SplitMins): per block j of a super-block, the codes of KQ2_K (codes2) times the 4-bit
// scale of their half, d, and the packed dmin | m0 << 16 | m1 << 24.
void repack_q2_k(const uint8_t* rows, const int32_t* off, int64_t b0, int64_t nb, uint8_t* dst, size_t pstride) {
  alignas(64) uint8_t q[kInt8PanelLanes][32];
  alignas(64) float s0[kInt8PanelLanes];
  alignas(64) uint32_t s1[kInt8PanelLanes];
  for (int64_t b = 0; b < nb; ++b, dst += pstride) {
    const int64_t blk = b0 + b;
    const int j = int(blk % 8);
    #pragma GCC unroll 4
    for (int i = 0; i < kInt8PanelLanes; ++i) {
      const blocks::Q2_K* x = reinterpret_cast<const blocks::Q2_K*>(rows + off[i]) + blk / 8;
      const uint8_t a = x->scales[2 * j], c = x->scales[2 * j + 1];
      // Codes are 0..3, so each 16-bit lane's two products (at most 45) stay in their bytes.
      const __m256i sc = _mm256_setr_m128i(_mm_set1_epi16(short(a & 0xf)), _mm_set1_epi16(short(c & 0xf)));
      _mm256_store_si256(reinterpret_cast<__m256i*>(q[i]), _mm256_mullo_epi16(codes2(x->qs, j), sc));
      s0[i] = h2f(x->d);
      s1[i] = uint32_t(x->dmin) | uint32_t(a >> 4) << 16 | uint32_t(c >> 4) << 24;
    }
    __m512i v[8];
    transpose_16x8_at(&q[0][0], kRowAt, v);
    for (int k = 0; k < 8; ++k) _mm512_store_si512(dst + 64 * k, v[k]);
    _mm512_store_ps(dst + kInt8CodeBytes, _mm512_load_ps(s0));
    _mm512_store_si512(dst + kInt8CodeBytes + 64, _mm512_load_si512(s1));
  }
}

}  // namespace

bool gemm_int8_more_type(WType t) {
  switch (t) {
    case WType::Q4_1: case WType::Q5_0: case WType::Q5_1: case WType::Q2_K: case WType::Q3_K: case WType::IQ4_NL:
    case WType::IQ4_XS: case WType::IQ3_S: case WType::MXFP4: case WType::IQ3_XXS: case WType::IQ2_XXS:
    case WType::IQ2_XS: case WType::IQ2_S: case WType::IQ1_S: case WType::IQ1_M:
      return true;
    default:
      return false;
  }
}

void repack_group_more(const Weight& w, int64_t r, int nrows, int groups, int g, int64_t b0, int64_t nb,
                       bool signed_codes, uint8_t* panel) {
  const size_t rb = w.row_bytes();
  const uint8_t* rows = w.row_ptr(r + kInt8PanelLanes * g);
  const int n = std::min(kInt8PanelLanes, nrows - kInt8PanelLanes * g);
  int32_t off[kInt8PanelLanes];
  for (int i = 0; i < kInt8PanelLanes; ++i) off[i] = int32_t(size_t(std::min(i, n - 1)) * rb);
  const size_t pstride = size_t(groups) * kInt8GroupBlockBytes;
  uint8_t* dst = panel + size_t(g) * kInt8GroupBlockBytes;
  const bool flip = !signed_codes && gemm_int8_offset(w.type) == 128;
  switch (w.type) {
    case WType::Q4_1: return repack_more<KQ4_1, Int8Kind::Mins>(rows, off, flip, b0, nb, dst, pstride);
    case WType::Q5_0: return repack_more<KQ5<false>, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::Q5_1: return repack_more<KQ5<true>, Int8Kind::Mins>(rows, off, flip, b0, nb, dst, pstride);
    case WType::Q2_K: return repack_q2_k(rows, off, b0, nb, dst, pstride);
    case WType::Q3_K: return repack_more<KQ3_K, Int8Kind::Halves>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ4_NL: return repack_more<KIQ4_NL, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ4_XS: return repack_more<KIQ4_XS, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ3_S: return repack_more<KIQ3_S, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::MXFP4: return repack_more<KMXFP4, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ3_XXS: return repack_more<KIQ3_XXS, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ2_XXS: return repack_more<KIQ2_XXS, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ2_XS: return repack_more<KIQ2_XS, Int8Kind::Halves>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ2_S: return repack_more<KIQ2_S, Int8Kind::Halves>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ1_S: return repack_more<KIQ1_S, Int8Kind::Plain>(rows, off, flip, b0, nb, dst, pstride);
    case WType::IQ1_M: return repack_more<KIQ1_M, Int8Kind::Halves>(rows, off, flip, b0, nb, dst, pstride);
    default: return;  // gemm_int8_more_type says which types come here
  }
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Integer GEMM for quantized weights and many tokens (prefill) with AVX-512 VNNI (vpdpbusd).
//
// Why this layout: a row-major block gives one int32 lane per 4 k-values of ONE row, so every 32-value
// block would need its own int->float conversion and scaling per (row, token). Instead, weights are
// repacked per call into panels where one 64-byte vector holds 4 consecutive codes of 16 different
// rows; a token's 4 activation bytes are broadcast against it. Eight vpdpbusd then finish a 32-value
// block for 16 rows at once, and one conversion + FMA applies the (row, block) x (token, block) scales.
//
// Weight codes are unsigned (0..15 for 4-bit, q+128 for Q8_0) and activations signed int8 quantized per
// 32 values exactly as the matrix-vector kernels do, so results equal kernels::matmul_q8_scalar up to
// the order of float additions. Q4_0/Q8_0 subtract their integer offset through the accumulator's
// initial value; Q4_K/Q5_K subtract their per-sub-block minimum with one more FMA. kernels_more.h's types
// (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS, IQ3_S, MXFP4) are repacked by gemm_int8_more_avx512.cpp
// from their decoders and multiplied by the same micro-kernels (gemm_int8_kind).
//
// The repacking (repack_int8_panel) is shared with the AMX kernel (gemm_int8_amx.cpp), whose tile B
// operand has exactly this layout; there the codes are signed (tdpbssd needs no offset) and Q6_K is
// repacked too.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/kernels_impl.h"

// The target options come after every header, so that no standard-library or project inline function is
// compiled for a wider ISA than the binary: the linker keeps one of the identical-named copies from all
// objects, and an AVX-512 copy would fault on a CPU without it.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

// Internal to this file (anonymous namespace), so compiled with the target above.
#include "quant/gemm_int8_transpose.h"

namespace g4::kernels::impl {

namespace {
using namespace blocks;

constexpr int kLanes = kInt8PanelLanes;       // rows per group: one int32 lane each
constexpr int kGroups = 3;                    // groups per panel: 48 rows share each activation broadcast
constexpr int kPanelRows = kLanes * kGroups;
constexpr int kCodeBytes = kInt8CodeBytes;    // one 32-value block of 16 rows: 8 vectors of 16 x 4 codes
constexpr int kGroupBlockBytes = kInt8GroupBlockBytes;  // + 16 f32 scales + 16 f32 mins
constexpr int kMaxTokens = 4;                 // tokens per register tile
constexpr int64_t kChunkBlocks = kInt8ChunkBlocks;  // 2048 columns of a panel repacked at a time (~120 KiB)

// The f16 scales at byte offset `at` of 16 rows (row i at rows + offs[i]) as f32.
inline __m512 gather_scales(const uint8_t* rows, __m512i offs, size_t at) {
  const __m512i v = _mm512_i32gather_epi32(offs, rows + at, 1);  // the scale is each dword's low half
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

// Weights straight into the panel layout, one 16-row group at a time (for a few tokens the repacking is
// most of the work). Rows past nrows repeat the last row (their results are masked off).
template <bool Signed>
void repack_group_direct(const Weight& w, int64_t r, int nrows, int groups, int g, int64_t b0, int64_t nb,
                         uint8_t* panel) {
  const size_t rb = w.row_bytes();
  const uint8_t* rows = w.row_ptr(r + kLanes * g);
  const int n = std::min(kLanes, nrows - kLanes * g);
  alignas(64) int32_t off[kLanes];
  for (int i = 0; i < kLanes; ++i) off[i] = int32_t(size_t(std::min(i, n - 1)) * rb);
  const __m512i offs = _mm512_load_si512(off);
  const size_t pstride = size_t(groups) * kGroupBlockBytes;
  uint8_t* dst = panel + size_t(g) * kGroupBlockBytes;
  if (w.type == WType::Q8_0) {
    const __m512i flip = _mm512_set1_epi8(char(Signed ? 0 : 0x80));
    for (int64_t b = 0; b < nb; ++b, dst += pstride) {
      const size_t at = size_t(b0 + b) * sizeof(Q8_0);
      __m512i v[8];
      transpose_16x8_at(rows + at + 2, off, v);
      for (int j = 0; j < 8; ++j) _mm512_store_si512(dst + 64 * j, _mm512_xor_si512(v[j], flip));
      _mm512_store_ps(dst + kCodeBytes, gather_scales(rows, offs, at));
      _mm512_store_ps(dst + kCodeBytes + 64, _mm512_setzero_ps());
    }
    return;
  }
  if (w.type == WType::Q4_K || w.type == WType::Q5_K) {
    // Per super-block: the 32 bytes of each pair of sub-blocks transposed once give both sub-blocks'
    // codes (low and high nibbles); Q5_K's fifth bits (bit j of qh[l] for element l of sub-block j) are
    // transposed once per super-block. The 6-bit scales and mins of all 16 rows are decoded side by side
    // (one row per lane). b0 and nb are multiples of 8.
    const bool five = w.type == WType::Q5_K;
    const size_t sbytes = five ? sizeof(Q5_K) : sizeof(Q4_K);
    const __m512i m4 = _mm512_set1_epi8(0x0f), sixteen = _mm512_set1_epi8(16);
    const __m512i m6 = _mm512_set1_epi32(0x3f3f3f3f), m2 = _mm512_set1_epi32(0x03030303), mlo = _mm512_set1_epi32(0x0f0f0f0f);
    const __m512i byte = _mm512_set1_epi32(0xff);
    for (int64_t sb = 0; sb < nb / 8; ++sb) {
      const size_t at = size_t(b0 / 8 + sb) * sbytes;
      const __m512 d = gather_scales(rows, offs, at), dmin = gather_scales(rows, offs, at + 2);
      const __m512i u0 = _mm512_i32gather_epi32(offs, rows + at + 4, 1);
      const __m512i u1 = _mm512_i32gather_epi32(offs, rows + at + 8, 1);
      const __m512i u2 = _mm512_i32gather_epi32(offs, rows + at + 12, 1);
      const __m512i sc[2] = {_mm512_and_si512(u0, m6),
                             _mm512_or_si512(_mm512_and_si512(u2, mlo),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), m2), 4))};
      const __m512i mn[2] = {_mm512_and_si512(u1, m6),
                             _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), mlo),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), m2), 4))};
      __m512i qh[8];
      if (five) transpose_16x8_at(rows + at + 16, off, qh);
      for (int p = 0; p < 4; ++p) {
        __m512i v[8];
        transpose_16x8_at(rows + at + (five ? 48 : 16) + 32 * p, off, v);
        for (int h = 0; h < 2; ++h) {
          const int j = 2 * p + h;  // sub-block
          uint8_t* out = dst + size_t(8 * sb + j) * pstride;
          for (int c = 0; c < 8; ++c) {
            __m512i q = _mm512_and_si512(h ? _mm512_srli_epi16(v[c], 4) : v[c], m4);
            if (five) q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(qh[c], _mm512_set1_epi8(char(1 << j))), q, sixteen);
            _mm512_store_si512(out + 64 * c, q);
          }
          const int shift = 8 * (j & 3);
          const __m512i scj = _mm512_and_si512(_mm512_srli_epi32(sc[j >> 2], shift), byte);
          const __m512i mj = _mm512_and_si512(_mm512_srli_epi32(mn[j >> 2], shift), byte);
          _mm512_store_ps(out + kCodeBytes, _mm512_mul_ps(d, _mm512_cvtepi32_ps(scj)));
          _mm512_store_ps(out + kCodeBytes + 64, _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(mj)));
        }
      }
    }
    return;
  }
  if (w.type == WType::Q6_K) {
    // Per half of a super-block (4 sub-blocks): its 64 bytes of low bits and 32 of
    // high bits transposed once; per sub-block the two 16-value halves' scales (int8 x the super-block's d).
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(0x03), off32 = _mm512_set1_epi8(Signed ? 32 : 0);
    for (int64_t sb = 0; sb < nb / 8; ++sb) {
      const size_t at = size_t(b0 / 8 + sb) * sizeof(Q6_K);
      // d is the super-block's last 2 bytes: gathered with the 2 before it, so as not to read past the row.
      const __m512i dv = _mm512_i32gather_epi32(offs, rows + at + offsetof(Q6_K, d) - 2, 1);
      const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dv, 16)));
      __m512i sc4[4];  // scales 4i..4i+3 of each row
      for (int i = 0; i < 4; ++i) sc4[i] = _mm512_i32gather_epi32(offs, rows + at + offsetof(Q6_K, scales) + 4 * i, 1);
      for (int h = 0; h < 2; ++h) {
        __m512i l0[8], l1[8], hb[8];
        transpose_16x8_at(rows + at + offsetof(Q6_K, ql) + 64 * h, off, l0);
        transpose_16x8_at(rows + at + offsetof(Q6_K, ql) + 64 * h + 32, off, l1);
        transpose_16x8_at(rows + at + offsetof(Q6_K, qh) + 32 * h, off, hb);
        for (int q = 0; q < 4; ++q) {
          const int j = 4 * h + q;  // sub-block
          uint8_t* out = dst + size_t(8 * sb + j) * pstride;
          for (int c = 0; c < 8; ++c) {
            const __m512i l = (q & 1) ? l1[c] : l0[c];
            const __m512i lo = _mm512_and_si512(q < 2 ? l : _mm512_srli_epi16(l, 4), m4);
            const __m512i hi = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb[c], 2 * q), m3), 4);
            _mm512_store_si512(out + 64 * c, _mm512_sub_epi8(_mm512_or_si512(lo, hi), off32));
          }
          for (int half = 0; half < 2; ++half) {
            const int k = 2 * j + half;  // scale index
            const __m512i sk = _mm512_srai_epi32(_mm512_slli_epi32(sc4[k / 4], 24 - 8 * (k % 4)), 24);  // int8
            _mm512_store_ps(out + kCodeBytes + 64 * half, _mm512_mul_ps(d, _mm512_cvtepi32_ps(sk)));
          }
        }
      }
    }
    return;
  }
  // Q4_0: the 16 bytes of packed nibbles of 4 rows per register (one row per 128-bit lane); dword j of
  // a row holds codes 4j..4j+3 (low nibbles) and 16+4j..16+4j+3 (high nibbles). Transposing 16 rows x 4
  // dwords gives the panel's vectors j and j + 4 at once.
  const __m512i lane_t = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i m4 = _mm512_set1_epi8(0x0f), off8 = _mm512_set1_epi8(Signed ? 8 : 0);
  for (int64_t b = 0; b < nb; ++b, dst += pstride) {
    const size_t at = size_t(b0 + b) * sizeof(Q4_0);
    __m512i p[4];
    for (int q = 0; q < 4; ++q) {
      const uint8_t* base = rows + at + 2;
      __m512i z = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[4 * q])));
      z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[4 * q + 1])), 1);
      z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[4 * q + 2])), 2);
      z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[4 * q + 3])), 3);
      p[q] = _mm512_permutexvar_epi32(lane_t, z);  // 128-bit lane j: dword j of the 4 rows
    }
    const __m512i t0 = _mm512_shuffle_i32x4(p[0], p[1], 0x44), t1 = _mm512_shuffle_i32x4(p[0], p[1], 0xee);
    const __m512i t2 = _mm512_shuffle_i32x4(p[2], p[3], 0x44), t3 = _mm512_shuffle_i32x4(p[2], p[3], 0xee);
    const __m512i v[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t0, t2, 0xdd),
                          _mm512_shuffle_i32x4(t1, t3, 0x88), _mm512_shuffle_i32x4(t1, t3, 0xdd)};
    for (int j = 0; j < 4; ++j) {
      _mm512_store_si512(dst + 64 * j, _mm512_sub_epi8(_mm512_and_si512(v[j], m4), off8));
      _mm512_store_si512(dst + 64 * (j + 4), _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v[j], 4), m4), off8));
    }
    _mm512_store_ps(dst + kCodeBytes, gather_scales(rows, offs, at));
    _mm512_store_ps(dst + kCodeBytes + 64, _mm512_setzero_ps());
  }
}

// Repacks rows [r, r + nrows) x blocks [b0, b0 + nb) into the panel layout (see kernels_impl.h).
template <bool Signed>
void repack_panel(const Weight& w, int64_t r, int nrows, int groups, int64_t b0, int64_t nb, uint8_t* panel) {
  const int used = (nrows + kLanes - 1) / kLanes;
  const bool more = gemm_int8_more_type(w.type);
  for (int g = 0; g < used; ++g) {
    if (more) repack_group_more(w, r, nrows, groups, g, b0, nb, Signed, panel);
    else repack_group_direct<Signed>(w, r, nrows, groups, g, b0, nb, panel);
  }
  for (int g = used; g < groups; ++g)  // groups wholly past the matrix: zeros
    for (int64_t b = 0; b < nb; ++b)
      std::memset(panel + (size_t(b) * size_t(groups) + size_t(g)) * kGroupBlockBytes, 0, kGroupBlockBytes);
}

// How a block's int32 dot products become f32 (see kernels_impl.h's panel layout).
enum class Kind {
  Plain,   // Q4_0, Q8_0: scale * d_x * dot (the code offset through the accumulator's initial value)
  Mins,    // Q4_K, Q5_K: scale * d_x * dot - min * (d_x * sum(x codes))
  Halves,  // Q6_K, Q3_K: d_x * (scale * dot(first 16) + scale2 * dot(last 16)), offset per half
  SplitMins,  // Q2_K: scale * d_x * dot - min0 * S0 - min1 * S1 (Int8Kind::SplitMins)
};

// Int8Kind::SplitMins's packed second slot (dmin f16 | m0 << 16 | m1 << 24) as the two mins dmin * m_h.
inline void split_mins(const uint8_t* slot, __m512& mn0, __m512& mn1) {
  const __m512i p = _mm512_load_si512(slot);
  const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(p));
  mn0 = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(p, 16), _mm512_set1_epi32(0xff))));
  mn1 = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_srli_epi32(p, 24)));
}

// y[t][r + lane] (+)= panel rows x tokens [0, NT) over nb blocks of the chunk starting at block b0.
template <int NT, Kind K>
void micro(const uint8_t* panel, int64_t nb, const Int8Acts& a, size_t t0, int64_t b0, float* y, size_t ldy,
           const __mmask16* mask, bool first, PanelPrefetch& pf) {
  constexpr int kHalves = K == Kind::Halves ? 2 : 1;  // integer accumulators per block (per 16 values)
  __m512 facc[kGroups][NT];
  #pragma GCC unroll 8
  for (int g = 0; g < kGroups; ++g)
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t)
      facc[g][t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask[g], y + (t0 + size_t(t)) * ldy + size_t(kLanes * g));
  const int8_t* xq[NT];
  const float* xd[NT];
  const float* xs[NT];
  const int32_t* xb[NT];
  const float* xs2[NT];
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    const size_t tok = t0 + size_t(t);
    xq[t] = a.q + tok * size_t(a.cols) + size_t(32 * b0);
    xd[t] = a.d + tok * size_t(a.nb) + size_t(b0);
    xs[t] = a.s + tok * size_t(a.nb) + size_t(b0);
    xb[t] = a.bias + tok * size_t(2 * a.nb) + size_t(2 * b0);
    xs2[t] = a.s2 + tok * size_t(2 * a.nb) + size_t(2 * b0);
  }
  for (int64_t b = 0; b < nb; ++b) {
    pf.step();
    const uint8_t* pb = panel + size_t(b) * kGroups * kGroupBlockBytes;
    __m512i iacc[kHalves][kGroups][NT];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      #pragma GCC unroll 2
      for (int h = 0; h < kHalves; ++h) {
        const int32_t bias = K == Kind::Mins || K == Kind::SplitMins ? 0
                             : K == Kind::Halves                     ? xb[t][2 * b + h]
                                                                     : xb[t][2 * b] + xb[t][2 * b + 1];
        #pragma GCC unroll 8
        for (int g = 0; g < kGroups; ++g) iacc[h][g][t] = _mm512_set1_epi32(bias);
      }
    }
    #pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const int h = kHalves == 2 ? j / 4 : 0;  // vectors 0-3 hold codes 0-15, 4-7 codes 16-31
      __m512i wv[kGroups];
      #pragma GCC unroll 8
      for (int g = 0; g < kGroups; ++g) wv[g] = _mm512_load_si512(pb + g * kGroupBlockBytes + 64 * j);
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        int32_t x4;
        std::memcpy(&x4, xq[t] + 32 * b + 4 * j, 4);
        const __m512i xv = _mm512_set1_epi32(x4);
        #pragma GCC unroll 8
        for (int g = 0; g < kGroups; ++g) iacc[h][g][t] = _mm512_dpbusd_epi32(iacc[h][g][t], wv[g], xv);
      }
    }
    #pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g) {
      const __m512 sc = _mm512_load_ps(pb + g * kGroupBlockBytes + kCodeBytes);
      __m512 sc2 = _mm512_setzero_ps(), mn1 = _mm512_setzero_ps();
      if constexpr (K == Kind::SplitMins) split_mins(pb + g * kGroupBlockBytes + kCodeBytes + 64, sc2, mn1);
      else sc2 = _mm512_load_ps(pb + g * kGroupBlockBytes + kCodeBytes + 64);  // mins or 2nd scales
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        if constexpr (K == Kind::SplitMins) {
          facc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[0][g][t]), _mm512_mul_ps(sc, _mm512_set1_ps(xd[t][b])),
                                       facc[g][t]);
          facc[g][t] = _mm512_fnmadd_ps(sc2, _mm512_set1_ps(xs2[t][2 * b]), facc[g][t]);
          facc[g][t] = _mm512_fnmadd_ps(mn1, _mm512_set1_ps(xs2[t][2 * b + 1]), facc[g][t]);
        } else if constexpr (K == Kind::Halves) {
          const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[1][g][t]), sc2,
                                           _mm512_mul_ps(_mm512_cvtepi32_ps(iacc[0][g][t]), sc));
          facc[g][t] = _mm512_fmadd_ps(v, _mm512_set1_ps(xd[t][b]), facc[g][t]);
        } else {
          facc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[0][g][t]), _mm512_mul_ps(sc, _mm512_set1_ps(xd[t][b])),
                                       facc[g][t]);
          if constexpr (K == Kind::Mins) facc[g][t] = _mm512_fnmadd_ps(sc2, _mm512_set1_ps(xs[t][b]), facc[g][t]);
        }
      }
    }
  }
  #pragma GCC unroll 8
  for (int g = 0; g < kGroups; ++g)
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + (t0 + size_t(t)) * ldy + size_t(kLanes * g), mask[g], facc[g][t]);
}

using MicroFn = void (*)(const uint8_t*, int64_t, const Int8Acts&, size_t, int64_t, float*, size_t, const __mmask16*, bool,
                         PanelPrefetch&);

template <Kind K, int... I>
constexpr std::array<MicroFn, sizeof...(I)> micro_table(std::integer_sequence<int, I...>) {
  return {micro<I + 1, K>...};
}

}  // namespace

void repack_int8_panel(const Weight& w, int64_t r, int nrows, int groups, int64_t b0, int64_t nb, bool signed_codes,
                       uint8_t* panel) {
  if (signed_codes) repack_panel<true>(w, r, nrows, groups, b0, nb, panel);
  else repack_panel<false>(w, r, nrows, groups, b0, nb, panel);
}

void PanelPrefetch::start(const Weight& w, int64_t r, int nrows, int64_t b0, int64_t nb, int64_t steps) {
  const WTypeInfo& info = wtype_info(w.type);
  const size_t begin = size_t(b0 * 32 / info.block_elems) * size_t(info.block_bytes);
  const size_t bytes = size_t(nb * 32 / info.block_elems) * size_t(info.block_bytes);
  first_ = nrows > 0 ? w.row_ptr(r) + begin : nullptr;
  row_bytes_ = w.row_bytes();
  lines_ = int64_t((bytes + 63) / 64);
  total_ = nrows > 0 ? lines_ * nrows : 0;
  next_ = row_ = line_ = 0;
  per_step_ = std::max<int64_t>(1, (total_ + std::max<int64_t>(1, steps) - 1) / std::max<int64_t>(1, steps));
}

bool gemm_int8_supported(WType t) {
  return t == WType::Q4_0 || t == WType::Q8_0 || t == WType::Q4_K || t == WType::Q5_K || t == WType::Q6_K ||
         gemm_int8_more_type(t);
}

int gemm_int8_offset(WType t) {
  switch (t) {
    case WType::Q4_0: return 8;
    case WType::Q8_0: return 128;
    case WType::Q6_K: return 32;
    // kernels_more.h's types with signed codes (gemm_int8_more_avx512.cpp)
    case WType::Q5_0: case WType::Q3_K: case WType::IQ4_NL: case WType::IQ4_XS: case WType::IQ3_S:
    case WType::MXFP4: case WType::IQ3_XXS: case WType::IQ2_XXS: case WType::IQ2_XS: case WType::IQ2_S:
    case WType::IQ1_S: case WType::IQ1_M:
      return 128;
    default: return 0;
  }
}

Int8Kind gemm_int8_kind(WType t) {
  switch (t) {
    case WType::Q4_K: case WType::Q5_K: case WType::Q4_1: case WType::Q5_1: return Int8Kind::Mins;
    case WType::Q6_K: case WType::Q3_K: case WType::IQ2_XS: case WType::IQ2_S: case WType::IQ1_M:
      return Int8Kind::Halves;
    case WType::Q2_K: return Int8Kind::SplitMins;
    default: return Int8Kind::Plain;
  }
}

namespace {

// r[i] = op over the 16 lanes of v[i], for 16 vectors at once: a transposing tree of 45 operations instead
// of 16 horizontal reductions of 8 dependent ones each.
struct MaxOp {
  __m512 operator()(__m512 a, __m512 b) const { return _mm512_max_ps(a, b); }
};
struct AddEpi32Op {  // integer lanes carried in float registers
  __m512 operator()(__m512 a, __m512 b) const {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  }
};

template <class Op>
inline __m512 reduce16(const __m512* v, Op op) {
  __m512 t[8], u[4], w[2];
  for (int i = 0; i < 8; ++i)
    t[i] = op(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int j = 0; j < 4; ++j) {
    const __m512d a = _mm512_castps_pd(t[2 * j]), b = _mm512_castps_pd(t[2 * j + 1]);
    u[j] = op(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  for (int k = 0; k < 2; ++k)
    w[k] = op(_mm512_shuffle_f32x4(u[2 * k], u[2 * k + 1], 0x88), _mm512_shuffle_f32x4(u[2 * k], u[2 * k + 1], 0xdd));
  return op(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
}

// quantize_act_avx512's numerics (d = amax / 127, codes rounded to nearest even, s = d * sum of codes)
// 16 blocks at a time, block b's 32 codes to q + b * q_stride and its d and s to d[b * ds_stride] and
// s[b * ds_stride] (the Rows or the Tiles layout); with s2, d * the sums of its two halves' codes to
// s2[b * s2_block + h * s2_half].
void quantize_blocks_int8(const float* x, int64_t nb, int8_t* q, size_t q_stride, float* d, float* s,
                          size_t ds_stride, float* s2 = nullptr, size_t s2_block = 0, size_t s2_half = 0) {
  const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t b0 = 0; b0 < nb; b0 += 16) {
    const int n = int(std::min<int64_t>(16, nb - b0));
    __m512 m[16], sums[16], hsums[16];  // hsums: the first halves' codes (with s2)
    for (int i = 0; i < 16; ++i) {
      if (i < n) {
        const float* xb = x + 32 * (b0 + i);
        m[i] = _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(xb), absmask), _mm512_and_ps(_mm512_loadu_ps(xb + 16), absmask));
      } else {
        m[i] = _mm512_setzero_ps();
      }
    }
    const __m512 db = _mm512_div_ps(reduce16(m, MaxOp{}), _mm512_set1_ps(127.0f));
    const __mmask16 nz = _mm512_cmp_ps_mask(db, _mm512_setzero_ps(), _CMP_NEQ_OQ);
    alignas(64) float id[16];
    _mm512_store_ps(id, _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0f), db));
    for (int i = 0; i < 16; ++i) {
      if (i >= n) {
        sums[i] = hsums[i] = _mm512_setzero_ps();
        continue;
      }
      const float* xb = x + 32 * (b0 + i);
      const __m512 vid = _mm512_set1_ps(id[i]);
      const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb), vid));
      const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16), vid));
      int8_t* qb = q + size_t(b0 + i) * q_stride;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb), _mm512_cvtsepi32_epi8(i0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16), _mm512_cvtsepi32_epi8(i1));
      sums[i] = _mm512_castsi512_ps(_mm512_add_epi32(i0, i1));
      hsums[i] = _mm512_castsi512_ps(i0);
    }
    const __m512i total = _mm512_castps_si512(reduce16(sums, AddEpi32Op{}));
    const __m512 sv = _mm512_mul_ps(db, _mm512_cvtepi32_ps(total));
    alignas(64) float dv[16], svv[16], h0[16], h1[16];
    _mm512_store_ps(dv, db);
    _mm512_store_ps(svv, sv);
    for (int i = 0; i < n; ++i) {
      d[size_t(b0 + i) * ds_stride] = dv[i];
      s[size_t(b0 + i) * ds_stride] = svv[i];
    }
    if (s2) {
      const __m512i first = _mm512_castps_si512(reduce16(hsums, AddEpi32Op{}));
      _mm512_store_ps(h0, _mm512_mul_ps(db, _mm512_cvtepi32_ps(first)));
      _mm512_store_ps(h1, _mm512_mul_ps(db, _mm512_cvtepi32_ps(_mm512_sub_epi32(total, first))));
      for (int i = 0; i < n; ++i) {
        s2[size_t(b0 + i) * s2_block] = h0[i];
        s2[size_t(b0 + i) * s2_block + s2_half] = h1[i];
      }
    }
  }
}

}  // namespace

void Int8ActBuffer::prepare(WType t, const float* x, int64_t cols, size_t t0, size_t t1) {
  const int64_t nb = cols / 32;
  const bool halves = gemm_int8_kind(t) == Int8Kind::SplitMins;
  if (layout_ == Int8Layout::Tiles) {
    constexpr size_t kT = kAmxTokenTile;
    for (size_t tok = t0; tok < t1; ++tok) {
      const size_t at = tok / kT * size_t(nb) * kT + tok % kT;  // the token's slot in its tile's block 0
      const size_t at2 = tok / kT * size_t(nb) * 2 * kT + tok % kT;
      quantize_blocks_int8(x + tok * size_t(cols), nb, q_.data() + at * 32, kT * 32, d_.data() + at, s_.data() + at, kT,
                           halves ? s2_.data() + at2 : nullptr, 2 * kT, kT);
    }
    return;
  }
  const int offset = gemm_int8_offset(t);
  for (size_t tok = t0; tok < t1; ++tok) {
    int8_t* q = q_.data() + tok * size_t(cols);
    float* d = d_.data() + tok * size_t(nb);
    quantize_blocks_int8(x + tok * size_t(cols), nb, q, 32, d, s_.data() + tok * size_t(nb), 1,
                         halves ? s2_.data() + tok * size_t(2 * nb) : nullptr, 2, 1);
    // Per 16 codes, -offset * their sum: the sum of absolute differences against zero of the codes + 128
    // (unsigned) gives four sums of 8, less 8 * 128 each.
    int32_t* bias = bias_.data() + tok * size_t(2 * nb);
    const __m256i flip = _mm256_set1_epi8(char(0x80));
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 32 * b)), flip);
      alignas(32) int64_t sad[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(sad), _mm256_sad_epu8(v, _mm256_setzero_si256()));
      bias[2 * b] = -offset * int32_t(sad[0] + sad[1] - 16 * 128);
      bias[2 * b + 1] = -offset * int32_t(sad[2] + sad[3] - 16 * 128);
    }
  }
}

void Int8ActBuffer::resize(size_t n_tokens, int64_t cols, Int8Layout layout) {
  layout_ = layout;
  const size_t nb = size_t(cols / 32);
  const size_t tokens = layout == Int8Layout::Tiles ? (n_tokens + kAmxTokenTile - 1) / kAmxTokenTile * kAmxTokenTile
                                                    : n_tokens;
  q_.resize(tokens * size_t(cols));
  d_.resize(tokens * nb);
  s_.resize(tokens * nb);
  s2_.resize(tokens * 2 * nb);
  if (layout == Int8Layout::Rows) {
    bias_.resize(tokens * 2 * nb);
  } else if (tokens > n_tokens) {
    // The last tile's padding tokens are zeros (finite; their results are never stored). They occupy
    // rows n_tokens % 16 .. 15 of every block of that tile.
    const size_t tile = n_tokens / kAmxTokenTile, first = n_tokens % kAmxTokenTile;
    for (size_t b = 0; b < nb; ++b) {
      const size_t at = (tile * nb + b) * kAmxTokenTile;
      std::memset(q_.data() + (at + first) * 32, 0, (kAmxTokenTile - first) * 32);
      std::fill(d_.begin() + std::ptrdiff_t(at + first), d_.begin() + std::ptrdiff_t(at + kAmxTokenTile), 0.0f);
      std::fill(s_.begin() + std::ptrdiff_t(at + first), s_.begin() + std::ptrdiff_t(at + kAmxTokenTile), 0.0f);
      for (size_t h = 0; h < 2; ++h)
        std::fill(s2_.begin() + std::ptrdiff_t(2 * at + h * kAmxTokenTile + first),
                  s2_.begin() + std::ptrdiff_t(2 * at + (h + 1) * kAmxTokenTile), 0.0f);
    }
  }
  acts_ = Int8Acts{q_.data(), d_.data(), s_.data(), bias_.data(), s2_.data(), cols, int64_t(nb)};
}

void gemm_int8_avx512(const Weight& w, const Int8Acts& a, size_t n_tokens, int64_t r0, int64_t r1, float* y) {
  static constexpr auto plain = micro_table<Kind::Plain>(std::make_integer_sequence<int, kMaxTokens>());
  static constexpr auto mins = micro_table<Kind::Mins>(std::make_integer_sequence<int, kMaxTokens>());
  // Two integer accumulators per block leave registers for 2 tokens per pass.
  static constexpr auto halves = micro_table<Kind::Halves>(std::make_integer_sequence<int, 2>());
  static constexpr auto split = micro_table<Kind::SplitMins>(std::make_integer_sequence<int, kMaxTokens>());
  const Int8Kind kind = gemm_int8_kind(w.type);
  const bool six = kind == Int8Kind::Halves;
  const MicroFn* table = six                          ? halves.data()
                         : kind == Int8Kind::Mins      ? mins.data()
                         : kind == Int8Kind::SplitMins ? split.data()
                                                       : plain.data();
  const size_t step = six ? 2 : kMaxTokens;
  const int64_t nb_total = w.cols / 32;
  const size_t ldy = size_t(w.rows);
  static thread_local std::vector<uint8_t> panel_store;
  PanelPrefetch pf;
  panel_store.resize(size_t(kChunkBlocks) * kGroups * kGroupBlockBytes + 64);
  uint8_t* panel = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(panel_store.data()) + 63) & ~uintptr_t(63));
  for (int64_t r = r0; r < r1; r += kPanelRows) {
    const int nrows = int(std::min<int64_t>(kPanelRows, r1 - r));
    __mmask16 mask[kGroups];
    for (int g = 0; g < kGroups; ++g) {
      const int n = std::clamp(nrows - kLanes * g, 0, kLanes);
      mask[g] = __mmask16((1u << n) - 1);
    }
    for (int64_t b0 = 0; b0 < nb_total; b0 += kChunkBlocks) {
      const int64_t nb = std::min<int64_t>(kChunkBlocks, nb_total - b0);
      repack_int8_panel(w, r, nrows, kGroups, b0, nb, false, panel);
      // The next chunk's weights are fetched while this one is multiplied: waiting for them one row at
      // a time made the repacking latency-bound on wide matrices.
      const int64_t steps = int64_t((n_tokens + step - 1) / step) * nb;
      if (b0 + kChunkBlocks < nb_total)
        pf.start(w, r, nrows, b0 + kChunkBlocks, std::min<int64_t>(kChunkBlocks, nb_total - b0 - kChunkBlocks), steps);
      else
        pf.start(w, r + kPanelRows, int(std::clamp<int64_t>(r1 - r - kPanelRows, 0, kPanelRows)), 0,
                 std::min<int64_t>(kChunkBlocks, nb_total), steps);
      for (size_t t0 = 0; t0 < n_tokens; t0 += step) {
        const int nt = int(std::min(step, n_tokens - t0));
        table[nt - 1](panel, nb, a, t0, b0, y + size_t(r), ldy, mask, b0 == 0, pf);
      }
      pf.finish();
    }
  }
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

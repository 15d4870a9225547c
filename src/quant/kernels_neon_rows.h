#pragma once
// ARM64 NEON matrix-vector kernels for quantized weights (decode and batches of up to 4 tokens), on
// activations quantized per 32 values in the natural layout (quantize_act_scalar). Per 32-value block
// (per 16 for Q6_K, whose scales change every 16 values) the integer dot product of the weight codes and
// the int8 activations is exact; the block's weight scale times the activation scale is applied in f32,
// as matmul_q8_scalar does, so results equal it up to the order of float additions.
//
// Dot selects the integer dot product of 16 int8 pairs: SDOT (ARMv8.2 DotProd) or, on every ARMv8 CPU,
// widening multiplies (SMULL/SMLAL2) with pairwise accumulation (SADALP). |code| <= 128 and
// |activation| <= 127, so two products fit in int16.
//
// Included by kernels_neon.cpp (Dot = false) and kernels_neon_dot.cpp (Dot = true, compiled for
// +dotprod): everything here lives in an anonymous namespace, so each object keeps its own copy and no
// function compiled for DotProd can stand in for a baseline one at link time.
#include <arm_neon.h>

#include <cstring>

#include "quant/blocks.h"
#include "quant/kernels_impl.h"

namespace g4::kernels::impl {
namespace {

using namespace blocks;

inline float h2f(uint16_t h) {
  __fp16 f;
  std::memcpy(&f, &h, sizeof f);
  return float(f);
}

// acc + the sums of the products of 16 int8 pairs, 4 at a time into each lane. Dot = false: widening
// multiplies here; Dot = true: SDOT, defined by kernels_neon_dot.cpp alone.
template <bool Dot>
struct Dot16;

template <>
struct Dot16<false> {
  static int32x4_t run(int32x4_t acc, int8x16_t w, int8x16_t a) {
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    p = vmlal_high_s8(p, w, a);
    return vpadalq_s16(acc, p);
  }
};

template <bool Dot>
inline int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t a) {
  return Dot16<Dot>::run(acc, w, a);
}

// Sum of the products of 32 codes (two vectors) with 32 activations.
template <bool Dot>
inline int32_t dot32(int8x16_t w0, int8x16_t w1, const int8_t* a) {
  return vaddvq_s32(dot16<Dot>(dot16<Dot>(vdupq_n_s32(0), w0, vld1q_s8(a)), w1, vld1q_s8(a + 16)));
}

inline int8x16_t low_nibbles(uint8x16_t q) { return vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))); }
inline int8x16_t high_nibbles(uint8x16_t q) { return vreinterpretq_s8_u8(vshrq_n_u8(q, 4)); }

// Q8_0 and Q4_0: one scale per 32-value block. Block sums stay in f32 lanes until the row ends.
template <bool Dot, int NT, bool Four>
void rows_q32(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    float32x4_t acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nb; ++i) {
      int8x16_t w0, w1;
      float dw;
      if constexpr (Four) {
        const Q4_0& b = reinterpret_cast<const Q4_0*>(row)[i];
        const uint8x16_t q = vld1q_u8(b.qs);
        w0 = vsubq_s8(low_nibbles(q), vdupq_n_s8(8));
        w1 = vsubq_s8(high_nibbles(q), vdupq_n_s8(8));
        dw = h2f(b.d);
      } else {
        const Q8_0& b = reinterpret_cast<const Q8_0*>(row)[i];
        w0 = vld1q_s8(b.qs);
        w1 = vld1q_s8(b.qs + 16);
        dw = h2f(b.d);
      }
      for (int t = 0; t < NT; ++t) {
        const int8_t* q = a[t].q + 32 * i;
        const int32x4_t s = dot16<Dot>(dot16<Dot>(vdupq_n_s32(0), w0, vld1q_s8(q)), w1, vld1q_s8(q + 16));
        acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(s), dw * a[t].d[i]);
      }
    }
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = vaddvq_f32(acc[t]);
  }
}

// Q4_K and Q5_K: per 256 values, 8 sub-blocks of 32 with 6-bit scales and mins; element =
// d * scale * code - dmin * min, so a sub-block contributes d * scale * a.d * sum(code * q) - dmin * min * a.s.
template <bool Dot, int NT, bool Five>
void rows_qk45(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    float acc[NT] = {};
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* scales;
      const uint8_t* qs;
      uint16_t dh, mh;
      uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
      if constexpr (Five) {
        const Q5_K& b = reinterpret_cast<const Q5_K*>(row)[i];
        scales = b.scales, qs = b.qs, dh = b.d, mh = b.dmin;
        qh0 = vld1q_u8(b.qh);
        qh1 = vld1q_u8(b.qh + 16);
      } else {
        const Q4_K& b = reinterpret_cast<const Q4_K*>(row)[i];
        scales = b.scales, qs = b.qs, dh = b.d, mh = b.dmin;
      }
      const float d = h2f(dh), dmin = h2f(mh);
      int sc[8], mn[8];
      for (int j = 0; j < 8; ++j) k4_scale_min(scales, j, sc[j], mn[j]);
      for (int p = 0; p < 4; ++p) {  // sub-blocks 2p (low nibbles) and 2p + 1 (high nibbles)
        const uint8x16_t q0 = vld1q_u8(qs + 32 * p), q1 = vld1q_u8(qs + 32 * p + 16);
        int8x16_t l0 = low_nibbles(q0), l1 = low_nibbles(q1), h0 = high_nibbles(q0), h1 = high_nibbles(q1);
        if constexpr (Five) {  // fifth bit of element l of sub-block j: bit j of qh[l]
          const uint8x16_t sixteen = vdupq_n_u8(16), bl = vdupq_n_u8(uint8_t(1 << (2 * p))),
                           bh = vdupq_n_u8(uint8_t(2 << (2 * p)));
          l0 = vorrq_s8(l0, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh0, bl), sixteen)));
          l1 = vorrq_s8(l1, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh1, bl), sixteen)));
          h0 = vorrq_s8(h0, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh0, bh), sixteen)));
          h1 = vorrq_s8(h1, vreinterpretq_s8_u8(vandq_u8(vtstq_u8(qh1, bh), sixteen)));
        }
        const int j = 2 * p;
        for (int t = 0; t < NT; ++t) {
          const int8_t* q = a[t].q + 256 * i + 64 * p;
          const float* ad = a[t].d + 8 * i;
          const float* as = a[t].s + 8 * i;
          const int32_t lo = dot32<Dot>(l0, l1, q), hi = dot32<Dot>(h0, h1, q + 32);
          acc[t] += d * float(sc[j]) * ad[j] * float(lo) - dmin * float(mn[j]) * as[j];
          acc[t] += d * float(sc[j + 1]) * ad[j + 1] * float(hi) - dmin * float(mn[j + 1]) * as[j + 1];
        }
      }
    }
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = acc[t];
  }
}

// Q6_K: per 256 values, codes of 4 low bits (ql) and 2 high bits (qh) minus 32, a signed 8-bit scale per
// 16 values. Element e = 128 h + 32 k4 + k (half h, quarter k4): low bits from ql[64 h + 32 (k4 & 1) + k]
// (high nibble when k4 >= 2), high bits (qh[32 h + k] >> 2 k4) & 3.
template <bool Dot, int NT>
void rows_q6_k(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nsb = w.cols / 256;
  for (int64_t r = r0; r < r1; ++r) {
    const Q6_K* blocks = reinterpret_cast<const Q6_K*>(w.row_ptr(r));
    float acc[NT] = {};
    for (int64_t i = 0; i < nsb; ++i) {
      const Q6_K& b = blocks[i];
      const float d = h2f(b.d);
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = b.ql + 64 * h;
        const uint8x16_t qh0 = vld1q_u8(b.qh + 32 * h), qh1 = vld1q_u8(b.qh + 32 * h + 16);
        for (int k4 = 0; k4 < 4; ++k4) {
          const uint8x16_t la = vld1q_u8(ql + 32 * (k4 & 1)), lb = vld1q_u8(ql + 32 * (k4 & 1) + 16);
          const int8x16_t shift = vdupq_n_s8(int8_t(-2 * k4));
          const uint8x16_t three = vdupq_n_u8(3);
          const uint8x16_t ha = vshlq_n_u8(vandq_u8(vshlq_u8(qh0, shift), three), 4),
                           hb = vshlq_n_u8(vandq_u8(vshlq_u8(qh1, shift), three), 4);
          const int8x16_t lowa = k4 & 2 ? high_nibbles(la) : low_nibbles(la),
                          lowb = k4 & 2 ? high_nibbles(lb) : low_nibbles(lb);
          const int8x16_t wa = vsubq_s8(vorrq_s8(lowa, vreinterpretq_s8_u8(ha)), vdupq_n_s8(32)),
                          wb = vsubq_s8(vorrq_s8(lowb, vreinterpretq_s8_u8(hb)), vdupq_n_s8(32));
          const int e = 128 * h + 32 * k4;
          const int32_t sa = b.scales[e / 16], sb = b.scales[e / 16 + 1];
          for (int t = 0; t < NT; ++t) {
            const int8_t* q = a[t].q + 256 * i + e;
            const int32_t da = vaddvq_s32(dot16<Dot>(vdupq_n_s32(0), wa, vld1q_s8(q)));
            const int32_t db = vaddvq_s32(dot16<Dot>(vdupq_n_s32(0), wb, vld1q_s8(q + 16)));
            acc[t] += d * a[t].d[8 * i + e / 32] * float(sa * da + sb * db);
          }
        }
      }
    }
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = acc[t];
  }
}

template <bool Dot, int NT, WType T>
void rows_type(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  if constexpr (T == WType::Q8_0) rows_q32<Dot, NT, false>(w, a, r0, r1, y, ldy);
  else if constexpr (T == WType::Q4_0) rows_q32<Dot, NT, true>(w, a, r0, r1, y, ldy);
  else if constexpr (T == WType::Q4_K) rows_qk45<Dot, NT, false>(w, a, r0, r1, y, ldy);
  else if constexpr (T == WType::Q5_K) rows_qk45<Dot, NT, true>(w, a, r0, r1, y, ldy);
  else rows_q6_k<Dot, NT>(w, a, r0, r1, y, ldy);
}

template <bool Dot, WType T>
void rows_nt(const Weight& w, const ActQ* a, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  switch (nt) {
    case 1: return rows_type<Dot, 1, T>(w, a, r0, r1, y, ldy);
    case 2: return rows_type<Dot, 2, T>(w, a, r0, r1, y, ldy);
    case 3: return rows_type<Dot, 3, T>(w, a, r0, r1, y, ldy);
    default: return rows_type<Dot, 4, T>(w, a, r0, r1, y, ldy);
  }
}

template <bool Dot>
RowsFn neon_rows_for(WType t) {
  switch (t) {
    case WType::Q8_0: return rows_nt<Dot, WType::Q8_0>;
    case WType::Q4_0: return rows_nt<Dot, WType::Q4_0>;
    case WType::Q4_K: return rows_nt<Dot, WType::Q4_K>;
    case WType::Q5_K: return rows_nt<Dot, WType::Q5_K>;
    case WType::Q6_K: return rows_nt<Dot, WType::Q6_K>;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace g4::kernels::impl

// The scalar reference of kernels_more.h: every block decoded element by element from the format
// definitions (as the dequantizers), integer dot products per 16 values, f32 scaling.
#include <cstring>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"
#include "quant/kernels_more.h"

namespace g4::kernels::impl {

namespace {

using namespace blocks;

template <class B>
const B* blk(const uint8_t* row, int64_t i) { return reinterpret_cast<const B*>(row) + i; }

// Nibble codes of a 32-value block stored as Q4_0 (element j low nibble, j + 16 high nibble).
inline int nib(const uint8_t* qs, int e) { return e < 16 ? (qs[e] & 0xf) : (qs[e - 16] >> 4); }

void set_scales(Block32& o, float sc0, float sc1, float mn0, float mn1) {
  o.sc[0] = sc0, o.sc[1] = sc1, o.mn[0] = mn0, o.mn[1] = mn1;
}

// Q2_K / Q3_K: the 2-bit code of element e (0..255) of a super-block.
inline int code2(const uint8_t* qs, int e) { return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3; }

// Grid point g's 8 coordinates (bytes of a 64-bit entry), negated where bit k of signs is set.
void put8(int8_t* q, uint64_t g, uint8_t signs) {
  for (int k = 0; k < 8; ++k) {
    const int v = int(uint8_t(g >> (8 * k)));
    q[k] = int8_t((signs >> k) & 1 ? -v : v);
  }
}

// IQ1: values dl * (g + delta) with g in {-1, 0, 1} and delta = +-1/8, as integers 8g +- 1 times dl / 8
// (both exact: the same real number, so the same products as the dequantizer's values).
void put8_iq1(int8_t* q, uint64_t g, bool neg_delta) {
  for (int k = 0; k < 8; ++k) q[k] = int8_t(8 * int(int8_t(uint8_t(g >> (8 * k)))) + (neg_delta ? -1 : 1));
}

// The grid i-quants but IQ3_S (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ1_S, IQ1_M), block j of a super-block,
// from codecs_iq.cpp's dequantizers: a scale per 32 or per 16 values times signed grid coordinates.
void decode_grid(WType t, const uint8_t* row, int64_t b, Block32& o) {
  const int j = int(b % 8);
  switch (t) {
    case WType::IQ2_XXS: {
      const IQ2_XXS* x = blk<IQ2_XXS>(row, b / 8);
      uint32_t aux[2];
      std::memcpy(aux, x->qs + 4 * j, 8);
      for (int l = 0; l < 4; ++l)
        put8(o.q + 8 * l, iq::kIq2xxsGrid[uint8_t(aux[0] >> (8 * l))], iq::iq_signs((aux[1] >> (7 * l)) & 127));
      const float s = f16_to_f32(x->d) * (0.5f + float(aux[1] >> 28)) * 0.25f;
      return set_scales(o, s, s, 0, 0);
    }
    case WType::IQ2_XS: {
      const IQ2_XS* x = blk<IQ2_XS>(row, b / 8);
      for (int l = 0; l < 4; ++l) {
        const uint16_t q = x->qs[4 * j + l];
        put8(o.q + 8 * l, iq::kIq2xsGrid[q & 511], iq::iq_signs(q >> 9));
      }
      const float d = f16_to_f32(x->d);
      return set_scales(o, d * (0.5f + float(x->scales[j] & 0xf)) * 0.25f, d * (0.5f + float(x->scales[j] >> 4)) * 0.25f,
                        0, 0);
    }
    case WType::IQ2_S: {
      const IQ2_S* x = blk<IQ2_S>(row, b / 8);
      for (int l = 0; l < 4; ++l)
        put8(o.q + 8 * l, iq::kIq2sGrid[x->qs[4 * j + l] | ((x->qh[j] << (8 - 2 * l)) & 0x300)], x->qs[32 + 4 * j + l]);
      const float d = f16_to_f32(x->d);
      return set_scales(o, d * (0.5f + float(x->scales[j] & 0xf)) * 0.25f, d * (0.5f + float(x->scales[j] >> 4)) * 0.25f,
                        0, 0);
    }
    case WType::IQ3_XXS: {
      const IQ3_XXS* x = blk<IQ3_XXS>(row, b / 8);
      uint32_t aux;
      std::memcpy(&aux, x->qs + 64 + 4 * j, 4);
      for (int l = 0; l < 4; ++l) {
        const uint64_t g = uint64_t(iq::kIq3xxsGrid[x->qs[8 * j + 2 * l]]) |
                           uint64_t(iq::kIq3xxsGrid[x->qs[8 * j + 2 * l + 1]]) << 32;
        put8(o.q + 8 * l, g, iq::iq_signs((aux >> (7 * l)) & 127));
      }
      const float s = f16_to_f32(x->d) * (0.5f + float(aux >> 28)) * 0.5f;
      return set_scales(o, s, s, 0, 0);
    }
    case WType::IQ1_S: {
      const IQ1_S* x = blk<IQ1_S>(row, b / 8);
      const uint16_t qh = x->qh[j];
      for (int l = 0; l < 4; ++l)
        put8_iq1(o.q + 8 * l, iq::kIq1sGrid[x->qs[4 * j + l] | (((qh >> 3 * l) & 7) << 8)], qh & 0x8000);
      const float s = f16_to_f32(x->d) * float(2 * ((qh >> 12) & 7) + 1) * 0.125f;
      return set_scales(o, s, s, 0, 0);
    }
    default: {  // IQ1_M
      const IQ1_M* x = blk<IQ1_M>(row, b / 8);
      uint16_t sc[4];
      std::memcpy(sc, x->scales, 8);
      const uint16_t s16 = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
      const float d = f16_to_f32(s16);
      const uint8_t* qs = x->qs + 4 * j;
      const uint8_t* qh = x->qh + 2 * j;
      for (int l = 0; l < 4; ++l) {
        const uint8_t h = qh[l / 2];
        const int idx = qs[l] | ((l % 2 ? h << 4 : h << 8) & 0x700);
        put8_iq1(o.q + 8 * l, iq::kIq1sGrid[idx], h & (l % 2 ? 0x80 : 0x08));
      }
      const float s0 = d * float(2 * ((sc[j / 2] >> (6 * (j % 2))) & 7) + 1) * 0.125f;
      const float s1 = d * float(2 * ((sc[j / 2] >> (6 * (j % 2) + 3)) & 7) + 1) * 0.125f;
      return set_scales(o, s0, s1, 0, 0);
    }
  }
}

void decode_k(WType t, const uint8_t* row, int64_t b, Block32& o) {
  const int j = int(b % 8);
  if (t == WType::Q2_K) {
    const Q2_K* x = blk<Q2_K>(row, b / 8);
    const float d = f16_to_f32(x->d), dmin = f16_to_f32(x->dmin);
    for (int l = 0; l < 32; ++l) o.q[l] = int8_t(code2(x->qs, 32 * j + l));
    const uint8_t s0 = x->scales[2 * j], s1 = x->scales[2 * j + 1];
    return set_scales(o, d * float(s0 & 0xf), d * float(s1 & 0xf), dmin * float(s0 >> 4), dmin * float(s1 >> 4));
  }
  if (t == WType::Q3_K) {
    const Q3_K* x = blk<Q3_K>(row, b / 8);
    const float d = f16_to_f32(x->d);
    for (int l = 0; l < 32; ++l) {
      const int e = 32 * j + l;
      o.q[l] = int8_t(code2(x->qs, e) - ((x->hmask[l] >> j) & 1 ? 0 : 4));
    }
    int sc[2];
    for (int h = 0; h < 2; ++h) {
      const int k = 2 * j + h;
      const int lo = k < 8 ? (x->scales[k] & 0xf) : (x->scales[k - 8] >> 4);
      sc[h] = (lo | (((x->scales[8 + k % 4] >> (2 * (k / 4))) & 3) << 4)) - 32;
    }
    return set_scales(o, d * float(sc[0]), d * float(sc[1]), 0, 0);
  }
  if (t == WType::IQ4_XS) {
    const IQ4_XS* x = blk<IQ4_XS>(row, b / 8);
    const int ls = ((x->scales_l[j / 2] >> 4 * (j % 2)) & 0xf) | (((x->scales_h >> 2 * j) & 3) << 4);
    for (int l = 0; l < 32; ++l) o.q[l] = iq::kIq4nlValues[nib(x->qs + 16 * j, l)];
    const float s = f16_to_f32(x->d) * float(ls - 32);
    return set_scales(o, s, s, 0, 0);
  }
  if (t != WType::IQ3_S) return decode_grid(t, row, b, o);
  // IQ3_S: the dequantizer's layout (a 4-bit scale per 32 values, 9-bit indices of 4-value grid points).
  const IQ3_S* x = blk<IQ3_S>(row, b / 8);
  const int sc = j % 2 == 0 ? (x->scales[j / 2] & 0xf) : (x->scales[j / 2] >> 4);
  const uint8_t* qs = x->qs + 8 * j;
  const uint8_t h = x->qh[j];
  for (int l = 0; l < 4; ++l) {
    const uint32_t g1 = iq::kIq3sGrid[qs[2 * l] | ((h << (8 - 2 * l)) & 256)];
    const uint32_t g2 = iq::kIq3sGrid[qs[2 * l + 1] | ((h << (7 - 2 * l)) & 256)];
    const uint8_t sg = x->signs[4 * j + l];
    for (int k = 0; k < 4; ++k) {
      const int v1 = int(uint8_t(g1 >> (8 * k))), v2 = int(uint8_t(g2 >> (8 * k)));
      o.q[8 * l + k] = int8_t((sg >> k) & 1 ? -v1 : v1);
      o.q[8 * l + 4 + k] = int8_t((sg >> (k + 4)) & 1 ? -v2 : v2);
    }
  }
  const float s = f16_to_f32(x->d) * float(1 + 2 * sc);
  set_scales(o, s, s, 0, 0);
}

}  // namespace

bool has_more_kernels(WType t) {
  switch (t) {
    case WType::Q4_1: case WType::Q5_0: case WType::Q5_1: case WType::Q2_K: case WType::Q3_K:
    case WType::IQ4_NL: case WType::IQ4_XS: case WType::IQ3_S: case WType::MXFP4: case WType::IQ3_XXS:
    case WType::IQ2_XXS: case WType::IQ2_XS: case WType::IQ2_S: case WType::IQ1_S: case WType::IQ1_M:
      return true;
    default:
      return false;
  }
}

bool nibble_layout(WType t) {
  return t == WType::Q4_0 || t == WType::Q4_1 || t == WType::Q5_0 || t == WType::Q5_1 || t == WType::IQ4_NL ||
         t == WType::MXFP4;
}

void decode_block32(WType t, const uint8_t* row, int64_t b, Block32& o) {
  switch (t) {
    case WType::Q4_1: {
      const Q4_1* x = blk<Q4_1>(row, b);
      for (int e = 0; e < 32; ++e) o.q[e] = int8_t(nib(x->qs, e));
      const float d = f16_to_f32(x->d), m = f16_to_f32(x->m);
      return set_scales(o, d, d, -m, -m);
    }
    case WType::Q5_0: case WType::Q5_1: {
      const bool one = t == WType::Q5_1;
      const uint8_t* p = row + b * (one ? 24 : 22);
      const uint8_t* qh = p + (one ? 4 : 2);
      uint32_t h;
      std::memcpy(&h, qh, 4);
      for (int e = 0; e < 32; ++e) o.q[e] = int8_t((nib(qh + 4, e) | int(((h >> e) & 1) << 4)) - (one ? 0 : 16));
      uint16_t dh, mh = 0;
      std::memcpy(&dh, p, 2);
      if (one) std::memcpy(&mh, p + 2, 2);
      const float d = f16_to_f32(dh), m = one ? f16_to_f32(mh) : 0.0f;
      return set_scales(o, d, d, -m, -m);
    }
    case WType::IQ4_NL: {
      const IQ4_NL* x = blk<IQ4_NL>(row, b);
      for (int e = 0; e < 32; ++e) o.q[e] = iq::kIq4nlValues[nib(x->qs, e)];
      const float d = f16_to_f32(x->d);
      return set_scales(o, d, d, 0, 0);
    }
    case WType::MXFP4: {
      const MXFP4* x = blk<MXFP4>(row, b);
      for (int e = 0; e < 32; ++e) o.q[e] = iq::kMxfp4Values[nib(x->qs, e)];
      const float d = codecs::e8m0_half(x->e);
      return set_scales(o, d, d, 0, 0);
    }
    default:
      return decode_k(t, row, b, o);
  }
}

namespace {

void rows_ref(const Weight& w, const ActQ* acts, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  Block32 blk32;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    float acc[4] = {0, 0, 0, 0};
    for (int64_t b = 0; b < nb; ++b) {
      decode_block32(w.type, row, b, blk32);
      for (int t = 0; t < nt; ++t) {
        const int8_t* a = acts[t].q + 32 * b;
        float v = 0;
        for (int h = 0; h < 2; ++h) {
          int dot = 0, sum = 0;
          for (int l = 16 * h; l < 16 * h + 16; ++l) {
            dot += int(blk32.q[l]) * int(a[l]);
            sum += a[l];
          }
          v += blk32.sc[h] * float(dot) - blk32.mn[h] * float(sum);
        }
        acc[t] += acts[t].d[b] * v;
      }
    }
    for (int t = 0; t < nt; ++t) y[size_t(t) * ldy + size_t(r)] = acc[t];
  }
}

}  // namespace

RowsFn rows_fn_more_scalar(WType t) { return has_more_kernels(t) ? rows_ref : nullptr; }

}  // namespace g4::kernels::impl

// Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4 (32-element blocks) and IQ4_XS (256, IQ4_NL's values with 6-bit
// sub-block scales): dequantizers bit-exact with ggml, quantizers byte-identical to ggml_quantize_chunk
// without an importance matrix. The float operations follow ggml's order one for one.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"

// ggml's reference code is compiled without FMA; a fused multiply-add would change roundings.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace g4::codecs {

namespace {

using namespace blocks;

inline float h2f(uint16_t h) { return f16_to_f32(h); }
inline uint16_t f2h(float f) { return f32_to_f16(f); }

template <class B>
const B* as(const uint8_t* p) { return reinterpret_cast<const B*>(p); }
template <class B>
B* as(uint8_t* p) { return reinterpret_cast<B*>(p); }

constexpr float kGroupMaxEps = 1e-15f;

// Index of the value of the sorted table nearest to x (ties to the lower), as ggml's best_index_int8.
int best_index(const int8_t* val, float x) {
  if (x <= float(val[0])) return 0;
  if (x >= float(val[15])) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < float(val[mav])) mu = mav;
    else ml = mav;
  }
  return x - float(val[mu - 1]) < float(val[mu]) - x ? mu - 1 : mu;
}

// Min/max of a 32-value block (the asymmetric formats).
void min_max(const float* x, float& mn, float& mx) {
  mn = FLT_MAX;
  mx = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    if (x[j] < mn) mn = x[j];
    if (x[j] > mx) mx = x[j];
  }
}

// The value of largest magnitude (the first one on ties), as the symmetric formats scale by.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

}  // namespace

void deq_q4_1(const uint8_t* src, float* y, int64_t nb) {
  const Q4_1* b = as<Q4_1>(src);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(b[i].d), m = h2f(b[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(b[i].qs[j] & 0x0f) * d + m;
      y[j + 16] = float(b[i].qs[j] >> 4) * d + m;
    }
  }
}

// Code j (0..31) of a Q5 block: its nibble and the fifth bit from qh.
inline int q5_code(const uint8_t* qs, uint32_t qh, int j) {
  const int lo = j < 16 ? (qs[j] & 0x0f) : (qs[j - 16] >> 4);
  return lo | int(((qh >> j) & 1u) << 4);
}

void deq_q5_0(const uint8_t* src, float* y, int64_t nb) {
  const Q5_0* b = as<Q5_0>(src);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < 32; ++j) y[j] = float(q5_code(b[i].qs, qh, j) - 16) * d;
  }
}

void deq_q5_1(const uint8_t* src, float* y, int64_t nb) {
  const Q5_1* b = as<Q5_1>(src);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(b[i].d), m = h2f(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < 32; ++j) y[j] = float(q5_code(b[i].qs, qh, j)) * d + m;
  }
}

void deq_iq4_nl(const uint8_t* src, float* y, int64_t nb) {
  const IQ4_NL* b = as<IQ4_NL>(src);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(iq::kIq4nlValues[b[i].qs[j] & 0x0f]);
      y[j + 16] = d * float(iq::kIq4nlValues[b[i].qs[j] >> 4]);
    }
  }
}

void deq_mxfp4(const uint8_t* src, float* y, int64_t nb) {
  const MXFP4* b = as<MXFP4>(src);
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = e8m0_half(b[i].e);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(iq::kMxfp4Values[b[i].qs[j] & 0x0f]) * d;
      y[j + 16] = float(iq::kMxfp4Values[b[i].qs[j] >> 4]) * d;
    }
  }
}

void deq_iq4_xs(const uint8_t* src, float* y, int64_t nb) {
  const IQ4_XS* b = as<IQ4_XS>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* qs = b[i].qs;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
      const int ls = ((b[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * float(iq::kIq4nlValues[qs[j] & 0x0f]);
        y[j + 16] = dl * float(iq::kIq4nlValues[qs[j] >> 4]);
      }
    }
  }
}

// ---------------------------------------------------------------- quantizers

void quant_q4_1(const float* x, uint8_t* dst, int64_t nb) {
  Q4_1* y = as<Q4_1>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float mn, mx;
    min_max(x, mn, mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(mn);
    for (int j = 0; j < 16; ++j) {
      const int a = int8_t((x[j] - mn) * id + 0.5f), b = int8_t((x[j + 16] - mn) * id + 0.5f);
      y[i].qs[j] = uint8_t(uint8_t(a < 15 ? a : 15) | (uint8_t(b < 15 ? b : 15) << 4));
    }
  }
}

void quant_q5_0(const float* x, uint8_t* dst, int64_t nb) {
  Q5_0* y = as<Q5_0>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    const float d = signed_absmax(x, 32) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const int a = int8_t(x[j] * id + 16.5f), b = int8_t(x[j + 16] * id + 16.5f);
      const uint8_t q0 = uint8_t(a < 31 ? a : 31), q1 = uint8_t(b < 31 ? b : 31);
      y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= uint32_t((q0 & 0x10u) >> 4) << j;
      qh |= uint32_t((q1 & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quant_q5_1(const float* x, uint8_t* dst, int64_t nb) {
  Q5_1* y = as<Q5_1>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float mn, mx;
    min_max(x, mn, mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    y[i].m = f2h(mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t q0 = uint8_t((x[j] - mn) * id + 0.5f), q1 = uint8_t((x[j + 16] - mn) * id + 0.5f);
      y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= uint32_t((q0 & 0x10u) >> 4) << j;
      qh |= uint32_t((q1 & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

namespace {

int best_index_mxfp4(float x, float e) {
  int best = 0;
  float best_err = std::fabs(float(iq::kMxfp4Values[0]) * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(float(iq::kMxfp4Values[i]) * e - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

}  // namespace

void quant_mxfp4(const float* x, uint8_t* dst, int64_t nb) {
  MXFP4* y = as<MXFP4>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j)
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    const uint8_t e = amax > 0.0f ? uint8_t(std::floor(std::log2(amax)) - 2 + 127) : 0;
    const float d = e8m0_half(e);
    y[i].e = e;
    for (int j = 0; j < 16; ++j)
      y[i].qs[j] = uint8_t(best_index_mxfp4(x[j], d) | (best_index_mxfp4(x[j + 16], d) << 4));
  }
}

namespace {

// One IQ4 super-block of n = 32 * nsub values (ggml's quantize_row_iq4_nl_impl with no importance
// weights and 7 scale trials): a scale per 32 values chosen by weighted least squares over the
// non-linear values, then (nsub > 1) the scales as 6-bit multiples of a super-scale. Writes the fp16
// scale to *dh, the codes to q4 (16 bytes per 32 values), and for nsub > 1 the 6-bit scales.
void iq4_block(int nsub, const float* x, uint16_t* dh, uint8_t* q4, uint16_t* scales_h, uint8_t* scales_l) {
  constexpr int ntry = 7;
  const int8_t* values = iq::kIq4nlValues;
  uint8_t L[256];
  float scales[8], weight[32];
  std::memset(q4, 0, size_t(16 * nsub));
  *dh = f2h(0.f);
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < nsub; ++ib) {
    const float* xb = x + ib * 32;
    uint8_t* Lb = L + ib * 32;
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / float(values[0]);
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = best_index(values, id * xb[j]);
      Lb[j] = uint8_t(l);
      const float q = float(values[l]), w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = float(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = float(values[best_index(values, id * xb[j])]), w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }
  if (nsub > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = f2h(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < nsub; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = l < -32 ? -32 : (l > 31 ? 31 : l);
      const float dl = d * float(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) L[ib * 32 + j] = uint8_t(best_index(values, idl * x[ib * 32 + j]));
      l += 32;
      const uint8_t l_l = uint8_t(l & 0xf), l_h = uint8_t(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] = uint8_t(scales_l[ib / 2] | (l_l << 4));
      *scales_h = uint16_t(*scales_h | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = f2h(scales[0]);
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
    for (int j = 0; j < 32; ++j) L[j] = uint8_t(best_index(values, id * x[j]));
  }
  for (int i = 0; i < nsub; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

}  // namespace

void quant_iq4_nl(const float* x, uint8_t* dst, int64_t nb) {
  IQ4_NL* y = as<IQ4_NL>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 32) iq4_block(1, x, &y[i].d, y[i].qs, nullptr, nullptr);
}

void quant_iq4_xs(const float* x, uint8_t* dst, int64_t nb) {
  IQ4_XS* y = as<IQ4_XS>(dst);
  for (int64_t i = 0; i < nb; ++i, x += 256) iq4_block(8, x, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}

}  // namespace g4::codecs

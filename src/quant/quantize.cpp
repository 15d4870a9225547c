// Scalar dequantizers (bit-exact with ggml's dequantize_row_*) and reference quantizers (the same
// algorithms as ggml's quantize_row_*_ref, so files written here quantize exactly as llama.cpp would).
//
// Floating-point contraction is disabled in this file: ggml's reference code is compiled without FMA,
// and a fused multiply-add would change roundings (and so chosen quants) in rare cases.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/kernels.h"

namespace g4 {

namespace {

using namespace blocks;

inline float h2f(uint16_t h) { return f16_to_f32(h); }
inline uint16_t f2h(float f) { return f32_to_f16(f); }

using codecs::nearest_int;

constexpr float kGroupMaxEps = 1e-15f;

void deq_q8_0(const Q8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < 32; ++j) y[i * 32 + j] = float(b[i].qs[j]) * d;
  }
}

void deq_q4_0(const Q4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[i * 32 + j] = float((b[i].qs[j] & 0x0f) - 8) * d;
      y[i * 32 + j + 16] = float((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void deq_q4_k(const Q4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int c = 0; c < 4; ++c) {
      int sc, m;
      k4_scale_min(b[i].scales, 2 * c, sc, m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k4_scale_min(b[i].scales, 2 * c + 1, sc, m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void deq_q5_k(const Q5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
    const uint8_t* ql = b[i].qs;
    const uint8_t* qh = b[i].qh;
    for (int c = 0; c < 4; ++c) {
      int sc, m;
      k4_scale_min(b[i].scales, 2 * c, sc, m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      k4_scale_min(b[i].scales, 2 * c + 1, sc, m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      const uint8_t u1 = uint8_t(1u << (2 * c)), u2 = uint8_t(2u << (2 * c));
      for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
    }
  }
}

void deq_q6_k(const Q6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int n = 0; n < 256; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = int((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = int((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * float(sc[is + 0]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void deq_q2_k(const Q2_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d), min = h2f(b[i].dmin);
    const uint8_t* q = b[i].qs;
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b[i].scales[is++];
          const float dl = d * float(sc & 0xf), ml = min * float(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// The 16 signed 6-bit scales of a Q3_K block (stored with offset 32).
void q3_k_scales(const uint8_t* s, int8_t* out) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? (s[j] & 0xf) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = int8_t((lo | (hi << 4)) - 32);
  }
}

void deq_q3_k(const Q3_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = h2f(b[i].d);
    int8_t scales[16];
    q3_k_scales(b[i].scales, scales);
    const uint8_t* q = b[i].qs;
    const uint8_t* hm = b[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = uint8_t(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * float(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            *y++ = dl * float(((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- reference quantizers

void q8_0_ref(const float* x, Q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
  }
}

void q4_0_ref(const float* x, Q4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f2h(d);
    for (int j = 0; j < 16; ++j) {
      const int a = int(int8_t(x[j] * id + 8.5f)), b = int(int8_t(x[j + 16] * id + 8.5f));
      const uint8_t q0 = uint8_t(a < 15 ? a : 15), q1 = uint8_t(b < 15 ? b : 15);
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

// Scale and min for a group of n values with levels 0..nmax, minimising a weighted squared error over a
// small grid of candidate scales (ggml's make_qkx2_quants).
// use_mad: weighted absolute instead of squared errors (Q2_K).
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min, uint8_t* Laux,
                    float rmin, float rdelta, int nstep, bool use_mad = false) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * (x[i] - min));
    l = l < 0 ? 0 : (l > nmax ? nmax : l);
    L[i] = uint8_t(l);
    float diff = scale * float(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += w[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * float(is) + float(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = l < 0 ? 0 : (l > nmax ? nmax : l);
      Laux[i] = uint8_t(l);
      const float fl = float(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * float(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += w[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Symmetric scale for n values with levels -nmax..nmax-1, weights x^2 (ggml's make_qx_quants, rmse_type 1).
float fit_scale_sym(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  auto clampl = [nmax](int l) { return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l); };
  float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clampl(nearest_int(iscale * x[i]));
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(float(nmax) + 0.1f * float(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clampl(nearest_int(iscale * x[i]));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * float(l);
      suml2 += w * float(l) * float(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + clampl(nearest_int(iscale * x[i])));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared by Q4_K (nmax 15) and Q5_K (nmax 31): sub-block scales/mins packed as 6 bits, final levels in L.
void k_scales_mins(const float* x, int nmax, float rmin, int nstep, uint16_t& d_out, uint16_t& dmin_out,
                   uint8_t* scales_out, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = fit_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(scales_out, 0, 12);
  for (int j = 0; j < 8; ++j) {
    uint8_t ls = uint8_t(nearest_int(inv_scale * scales[j]));
    uint8_t lm = uint8_t(nearest_int(inv_min * mins[j]));
    if (ls > 63) ls = 63;
    if (lm > 63) lm = 63;
    if (j < 4) {
      scales_out[j] = ls;
      scales_out[j + 4] = lm;
    } else {
      scales_out[j + 4] = uint8_t((ls & 0x0f) | ((lm & 0x0f) << 4));
      scales_out[j - 4] |= uint8_t((ls >> 4) << 6);
      scales_out[j] |= uint8_t((lm >> 4) << 6);
    }
  }
  d_out = f2h(max_scale / 63.f);
  dmin_out = f2h(max_min / 63.f);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k4_scale_min(scales_out, j, sc, m);
    const float d = h2f(d_out) * float(sc);
    if (d == 0.0f) continue;
    const float dm = h2f(dmin_out) * float(m);
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(l < 0 ? 0 : (l > nmax ? nmax : l));
    }
  }
}

void q4_k_ref(const float* x, Q4_K* y, int64_t nb) {
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    k_scales_mins(x, 15, -1.f, 20, y[i].d, y[i].dmin, y[i].scales, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < 256; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void q5_k_ref(const float* x, Q5_K* y, int64_t nb) {
  uint8_t L[256];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    k_scales_mins(x, 31, -0.5f, 15, y[i].d, y[i].dmin, y[i].scales, L);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < 256; n += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j], l2 = L[n + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = uint8_t(l1 | (l2 << 4));
      }
      m1 = uint8_t(m1 << 2);
      m2 = uint8_t(m2 << 2);
    }
  }
}

void q6_k_ref(const float* x, Q6_K* y, int64_t nb) {
  int8_t L[256];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      const float scale = fit_scale_sym(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(Q6_K));
      y[i].d = f2h(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f2h(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      const int s = nearest_int(iscale * scales[ib]);
      y[i].scales[ib] = int8_t(s < 127 ? s : 127);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = h2f(y[i].d) * float(y[i].scales[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        int l = nearest_int(x[16 * j + ii] / d);
        l = l < -32 ? -32 : (l > 31 ? 31 : l);
        L[16 * j + ii] = int8_t(l + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l] & 0x0f, q2 = L[j + l + 32] & 0x0f, q3 = L[j + l + 64] & 0x0f,
                      q4 = L[j + l + 96] & 0x0f;
        ql[l] = uint8_t(q1 | (q3 << 4));
        ql[l + 32] = uint8_t(q2 | (q4 << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

// Symmetric levels -nmax..nmax-1 for n values, refined by changing one level at a time while the
// x^2-weighted fit improves (ggml's make_q3_quants with do_rmse). L receives levels + nmax.
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  auto clampl = [nmax](int l) { return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l); };
  const float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clampl(nearest_int(iscale * x[i]));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * float(L[i]) * float(L[i]);
        const int new_l = clampl(nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          slx += w * x[i] * float(new_l);
          sl2 += w * float(new_l) * float(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Packs 2-bit codes (levels 0..3 in L) as Q2_K / Q3_K store them: per 128 values, 32 bytes holding
// the four 32-value runs at shifts 0, 2, 4, 6.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 256; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

void q2_k_ref(const float* x, Q2_K* y, int64_t nb) {
  uint8_t L[256], Laux[16];
  float weights[16], mins[16], scales[16];
  const float q4scale = 15.f;
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = f2h(max_scale / q4scale);
    } else {
      for (int j = 0; j < 16; ++j) y[i].scales[j] = 0;
      y[i].d = f2h(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = f2h(max_min / q4scale);
    } else {
      y[i].dmin = f2h(0.f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = h2f(y[i].d) * float(y[i].scales[j] & 0xf);
      if (d == 0.0f) continue;
      const float dm = h2f(y[i].dmin) * float(y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = uint8_t(l < 0 ? 0 : (l > 3 ? 3 : l));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void q3_k_ref(const float* x, Q3_K* y, int64_t nb) {
  int8_t L[256];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += 256) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, 12);
    if (max_scale != 0.0f) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        int8_t l = int8_t(nearest_int(iscale * scales[j]));  // ggml narrows before clamping
        l = int8_t((l < -32 ? -32 : (l > 31 ? 31 : l)) + 32);
        if (j < 8) y[i].scales[j] = uint8_t(l & 0xf);
        else y[i].scales[j - 8] = uint8_t(y[i].scales[j - 8] | ((l & 0xf) << 4));
        l = int8_t(l >> 4);
        y[i].scales[j % 4 + 8] = uint8_t(y[i].scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      y[i].d = f2h(1 / iscale);
    } else {
      y[i].d = f2h(0.f);
    }
    int8_t sc[16];
    q3_k_scales(y[i].scales, sc);
    for (int j = 0; j < 16; ++j) {
      const float d = h2f(y[i].d) * float(sc[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t((l < -4 ? -4 : (l > 3 ? 3 : l)) + 4);
      }
    }
    std::memset(y[i].hmask, 0, 32);
    uint8_t Lu[256];
    for (int j = 0; j < 256; ++j) {
      int l = L[j];
      if (l > 3) {
        y[i].hmask[j % 32] = uint8_t(y[i].hmask[j % 32] | (1 << (j / 32)));
        l -= 4;
      }
      Lu[j] = uint8_t(l);
    }
    pack_2bit(Lu, y[i].qs);
  }
}

void check_blocks(WType t, int64_t n, const char* what) {
  const WTypeInfo& info = wtype_info(t);
  if (n < 0 || n % info.block_elems != 0)
    throw Error(std::string(what) + ": " + std::to_string(n) + " elements is not a whole number of " + info.name +
                " blocks (" + std::to_string(info.block_elems) + " elements each)");
}

}  // namespace

void dequantize_blocks(WType t, const uint8_t* src, float* out, int64_t n) {
  check_blocks(t, n, "dequantize");
  const int64_t nb = n / wtype_info(t).block_elems;
  switch (t) {
    case WType::Q8_0: return deq_q8_0(reinterpret_cast<const Q8_0*>(src), out, nb);
    case WType::Q4_0: return deq_q4_0(reinterpret_cast<const Q4_0*>(src), out, nb);
    case WType::Q4_K: return deq_q4_k(reinterpret_cast<const Q4_K*>(src), out, nb);
    case WType::Q5_K: return deq_q5_k(reinterpret_cast<const Q5_K*>(src), out, nb);
    case WType::Q6_K: return deq_q6_k(reinterpret_cast<const Q6_K*>(src), out, nb);
    case WType::Q2_K: return deq_q2_k(reinterpret_cast<const Q2_K*>(src), out, nb);
    case WType::Q3_K: return deq_q3_k(reinterpret_cast<const Q3_K*>(src), out, nb);
    case WType::Q4_1: return codecs::deq_q4_1(src, out, nb);
    case WType::Q5_0: return codecs::deq_q5_0(src, out, nb);
    case WType::Q5_1: return codecs::deq_q5_1(src, out, nb);
    case WType::IQ4_NL: return codecs::deq_iq4_nl(src, out, nb);
    case WType::MXFP4: return codecs::deq_mxfp4(src, out, nb);
    case WType::IQ4_XS: return codecs::deq_iq4_xs(src, out, nb);
    case WType::IQ2_XXS: return codecs::deq_iq2_xxs(src, out, nb);
    case WType::IQ2_XS: return codecs::deq_iq2_xs(src, out, nb);
    case WType::IQ2_S: return codecs::deq_iq2_s(src, out, nb);
    case WType::IQ3_XXS: return codecs::deq_iq3_xxs(src, out, nb);
    case WType::IQ3_S: return codecs::deq_iq3_s(src, out, nb);
    case WType::IQ1_S: return codecs::deq_iq1_s(src, out, nb);
    case WType::IQ1_M: return codecs::deq_iq1_m(src, out, nb);
    case WType::F32: std::memcpy(out, src, size_t(n) * 4); return;
    case WType::F16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(s[i]);
      return;
    }
    case WType::BF16: {
      const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(s[i]);
      return;
    }
  }
  throw Error(std::string("dequantization of ") + wtype_info(t).name + " is not implemented");
}

void quantize_row(WType t, const float* x, uint8_t* out, int64_t n) {
  check_blocks(t, n, "quantize");
  const int64_t nb = n / wtype_info(t).block_elems;
  switch (t) {
    case WType::Q8_0: return q8_0_ref(x, reinterpret_cast<Q8_0*>(out), nb);
    case WType::Q4_0: return q4_0_ref(x, reinterpret_cast<Q4_0*>(out), nb);
    case WType::Q4_K: return q4_k_ref(x, reinterpret_cast<Q4_K*>(out), nb);
    case WType::Q5_K: return q5_k_ref(x, reinterpret_cast<Q5_K*>(out), nb);
    case WType::Q6_K: return q6_k_ref(x, reinterpret_cast<Q6_K*>(out), nb);
    case WType::Q2_K: return q2_k_ref(x, reinterpret_cast<Q2_K*>(out), nb);
    case WType::Q3_K: return q3_k_ref(x, reinterpret_cast<Q3_K*>(out), nb);
    case WType::Q4_1: return codecs::quant_q4_1(x, out, nb);
    case WType::Q5_0: return codecs::quant_q5_0(x, out, nb);
    case WType::Q5_1: return codecs::quant_q5_1(x, out, nb);
    case WType::IQ4_NL: return codecs::quant_iq4_nl(x, out, nb);
    case WType::MXFP4: return codecs::quant_mxfp4(x, out, nb);
    case WType::IQ4_XS: return codecs::quant_iq4_xs(x, out, nb);
    case WType::IQ3_XXS: return codecs::quant_iq3_xxs(x, out, nb);
    case WType::IQ3_S: return codecs::quant_iq3_s(x, out, nb);
    case WType::IQ2_S: return codecs::quant_iq2_s(x, out, nb);
    case WType::IQ1_M: return codecs::quant_iq1_m(x, out, nb);
    case WType::IQ2_XXS: case WType::IQ2_XS: case WType::IQ1_S:
      throw Error(std::string("quantization to ") + wtype_info(t).name +
                  " needs an importance matrix (as in llama.cpp), which is not supported");
    default: break;
    case WType::F32: std::memcpy(out, x, size_t(n) * 4); return;
    case WType::F16: {
      uint16_t* o = reinterpret_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_f16(x[i]);
      return;
    }
    case WType::BF16: {
      uint16_t* o = reinterpret_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
      return;
    }
  }
  throw Error(std::string("quantization to ") + wtype_info(t).name + " is not implemented");
}

}  // namespace g4

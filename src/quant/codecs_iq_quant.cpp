// Reference quantizers of the grid formats ggml writes without an importance matrix: IQ3_XXS, IQ3_S,
// IQ2_S (here) and IQ1_M (codecs_iq1_quant.cpp). Same algorithms and the same float operations in the same
// order as ggml's quantize_row_*_impl with quant_weights == NULL, so the bytes are ggml_quantize_chunk's.
// Every sub-block tries a range of scales; for each, every group of 4 (IQ3) or 8 (IQ2) values is rounded
// to levels, and a point off the grid is replaced by its best neighbour on the grid (iq_search.h).
//
// Non-finite input: ggml aborts when no neighbour has a finite distance; here the nearest neighbour in the
// list is taken instead, so the output is some valid block and nothing is read out of bounds.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_search.h"

namespace g4::codecs {

namespace {

using iq::GridSearch;

constexpr int kQK = 256;

// ggml's MAX / MIN macros (they differ from std::max/min when an argument is NaN).
inline float fmax_(float a, float b) { return a > b ? a : b; }
inline int clampi(int l, int hi) { return l < 0 ? 0 : (l < hi ? l : hi); }

// sum(x^2) of a super-block, as ggml's 2*sumx2/QK_K.
float sigma2_of(const float* xbl) {
  float sumx2 = 0;
  for (int i = 0; i < kQK; ++i) sumx2 += xbl[i] * xbl[i];
  return 2.f * sumx2 / float(kQK);
}

uint32_t key_of(const GridSearch& g, const int8_t* L) {
  uint32_t u = 0;
  for (int i = 0; i < g.dims; ++i) u |= uint32_t(L[i]) << (g.bits * i);
  return u;
}

void copy_levels(const GridSearch& g, int index, int8_t* L) {
  std::memcpy(L, g.point(index), size_t(g.dims));
}

// ggml's iq2/iq3_find_best_neighbour: the neighbour of an off-grid key closest (weighted) to xval/scale.
int best_neighbour(const GridSearch& g, uint32_t key, const float* xval, const float* weight, float scale,
                   int8_t* L) {
  const uint16_t* nb = g.neighbours_of(key);
  float best_d2 = FLT_MAX;
  int best = nb[1];
  for (int j = 1; j <= nb[0]; ++j) {
    const int8_t* p = g.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < g.dims; ++i) {
      const float q = float(2 * p[i] + 1);
      const float diff = scale * q - xval[i];
      d2 += weight[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[j];
    }
  }
  copy_levels(g, best, L);
  return best;
}

// How a type searches the scale of a sub-block.
struct Search {
  int n;              // values per sub-block
  int kmaxq;          // levels per coordinate
  int is_lo, is_hi;   // the scale steps tried
  float step;
  bool start_on_grid;  // is_on_grid before any step is accepted
  bool redo_all;       // the final pass re-rounds every group, not only the off-grid ones
};

// Levels L of one sub-block of magnitudes xval (> 0 max), and its scale: ggml's search loop shared by
// IQ3_XXS, IQ3_S and IQ2_S.
float search_block(const GridSearch& g, const Search& s, float max, const float* xval, const float* weight,
                   const float* waux, int8_t* L) {
  const int ngroups = s.n / g.dims;
  int8_t Laux[32];
  bool on_grid[8], on_grid_aux[8];
  float best = 0;
  float scale = max / float(2 * s.kmaxq - 1);
  for (int k = 0; k < ngroups; ++k) on_grid[k] = s.start_on_grid;
  for (int is = s.is_lo; is <= s.is_hi; ++is) {
    const float id = (float(2 * s.kmaxq - 1) + float(is) * s.step) / max;
    const float this_scale = 1 / id;
    for (int k = 0; k < ngroups; ++k) {
      int8_t* La = Laux + g.dims * k;
      for (int i = 0; i < g.dims; ++i)
        La[i] = int8_t(clampi(nearest_int(0.5f * (id * xval[g.dims * k + i] - 1)), s.kmaxq - 1));
      const uint32_t u = key_of(g, La);
      on_grid_aux[k] = g.index(u) >= 0;
      if (!on_grid_aux[k]) best_neighbour(g, u, xval + g.dims * k, waux + g.dims * k, this_scale, La);
    }
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < s.n; ++i) {
      const float w = weight[i];
      const float q = float(2 * Laux[i] + 1);
      sumqx += w * xval[i] * q;
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, size_t(s.n));
      for (int k = 0; k < ngroups; ++k) on_grid[k] = on_grid_aux[k];
    }
  }
  int n_off = 0;
  for (int k = 0; k < ngroups; ++k) n_off += on_grid[k] ? 0 : 1;
  if (n_off == 0 || !(scale > 0)) return scale;
  const float id = 1 / scale;
  for (int k = 0; k < ngroups; ++k) {
    if (!s.redo_all && on_grid[k]) continue;
    int8_t l[8];
    for (int i = 0; i < g.dims; ++i)
      l[i] = int8_t(clampi(nearest_int(0.5f * (id * xval[g.dims * k + i] - 1)), s.kmaxq - 1));
    const uint32_t u = key_of(g, l);
    const int index = g.index(u);
    if (index >= 0) copy_levels(g, index, L + g.dims * k);
    else best_neighbour(g, u, xval + g.dims * k, waux + g.dims * k, scale, L + g.dims * k);
  }
  float sumqx = 0, sumq2 = 0;
  for (int i = 0; i < s.n; ++i) {
    const float w = weight[i];
    const float q = float(2 * L[i] + 1);
    sumqx += w * xval[i] * q;
    sumq2 += w * q * q;
  }
  if (sumq2 > 0) scale = sumqx / sumq2;
  return scale;
}

// Magnitudes of 8 values and their sign bits.
uint8_t split_signs(const float* xb, float* xval) {
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      s = uint8_t(s | (1 << i));
    }
  }
  return s;
}

float max_of(const float* v, int n) {
  float m = v[0];
  for (int i = 1; i < n; ++i) m = fmax_(m, v[i]);
  return m;
}

// IQ3_XXS stores 7 sign bits per 8 values (the eighth makes the count of negatives even): with an odd
// count, the value of least weight*x^2 changes sign.
uint8_t iq3xxs_signs(const float* xb, const float* weight, float* xval) {
  uint8_t s = split_signs(xb, xval);
  if (__builtin_popcount(s) % 2) {
    int imin = 0;
    float min = weight[0] * xb[0] * xb[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = uint8_t(s ^ (1 << imin));
  }
  return uint8_t(s & 127);
}

void iq3_xxs_block(const float* xbl, blocks::IQ3_XXS& y) {
  const GridSearch& g = iq::iq3xxs_search();
  const Search s{32, 8, -15, 15, 0.2f, true, false};
  uint8_t q3[96] = {};
  float scales[8];
  float max_scale = 0;
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = xbl + 32 * ib;
    float weight[32], waux[32], xval[32];
    int8_t L[32] = {};
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 4; ++k) signs[k] = iq3xxs_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k);
    const float max = max_of(xval, 32);
    if (max < 1e-8f) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_block(g, s, max, xval, weight, waux, L);
    if (scale < 0) {  // never in practice; ggml flips the signs to keep the scale unsigned
      scale = -scale;
      for (int k = 0; k < 4; ++k) signs[k] = uint8_t(~signs[k] & 127);
    }
    for (int k = 0; k < 8; ++k) q3[8 * ib + k] = uint8_t(g.index(key_of(g, L + 4 * k)));
    const uint32_t ss = uint32_t(signs[0]) | (uint32_t(signs[1]) << 7) | (uint32_t(signs[2]) << 14) |
                        (uint32_t(signs[3]) << 21);
    std::memcpy(q3 + 64 + 4 * ib, &ss, 4);
    scales[ib] = scale;
    max_scale = fmax_(max_scale, scale);
  }
  std::memset(&y, 0, sizeof y);
  if (max_scale == 0) return;
  const float d = max_scale / 31;
  y.d = f32_to_f16(d * 1.0125f);
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ++ib) {
    const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 15);
    uint32_t ss;
    std::memcpy(&ss, q3 + 64 + 4 * ib, 4);
    ss |= uint32_t(l) << 28;
    std::memcpy(q3 + 64 + 4 * ib, &ss, 4);
  }
  std::memcpy(y.qs, q3, sizeof q3);
}

void iq3_s_block(const float* xbl, blocks::IQ3_S& y) {
  const GridSearch& g = iq::iq3s_search();
  const Search s{32, 8, -9, 9, 0.2f, false, true};
  std::memset(&y, 0, sizeof y);
  float scales[8];
  float max_scale = 0;
  // ggml advances its quant and sign pointers only past sub-blocks that are not all zero: a later
  // sub-block then lands in the earlier one's place (the grid index's ninth bit does not move).
  uint8_t* qs = y.qs;
  uint8_t* sg = y.signs;
  for (int ib = 0; ib < 8; ++ib) {
    const float* xb = xbl + 32 * ib;
    float weight[32], waux[32], xval[32];
    int8_t L[32] = {};
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
    for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 4; ++k) signs[k] = split_signs(xb + 8 * k, xval + 8 * k);
    const float max = max_of(xval, 32);
    if (max == 0) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_block(g, s, max, xval, weight, waux, L);
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 4; ++k) signs[k] = uint8_t(~signs[k]);
    }
    for (int k = 0; k < 8; ++k) {
      const int index = g.index(key_of(g, L + 4 * k));
      qs[k] = uint8_t(index & 255);
      y.qh[(ib * 8 + k) / 8] = uint8_t(y.qh[(ib * 8 + k) / 8] | ((index >> 8) << ((ib * 8 + k) % 8)));
    }
    qs += 8;
    std::memcpy(sg, signs, 4);
    sg += 4;
    scales[ib] = scale;
    max_scale = fmax_(max_scale, scale);
  }
  if (max_scale == 0) return;
  const float d = max_scale / 31;
  y.d = f32_to_f16(d * 1.033f);
  const float id = 1 / d;
  for (int ib = 0; ib < 8; ib += 2) {
    const int l1 = clampi(nearest_int(0.5f * (id * scales[ib + 0] - 1)), 15);
    const int l2 = clampi(nearest_int(0.5f * (id * scales[ib + 1] - 1)), 15);
    y.scales[ib / 2] = uint8_t(l1 | (l2 << 4));
  }
}

void iq2_s_block(const float* xbl, blocks::IQ2_S& y) {
  const GridSearch& g = iq::iq2s_search();
  const Search s{16, 3, -9, 9, 0.1f, true, false};
  std::memset(&y, 0, sizeof y);
  const float sigma2 = sigma2_of(xbl);
  float scales[16];
  float max_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const float* xb = xbl + 16 * ib;
    float weight[16], waux[16], xval[16];
    int8_t L[16] = {};
    uint8_t signs[2];
    for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
    for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
    for (int k = 0; k < 2; ++k) signs[k] = split_signs(xb + 8 * k, xval + 8 * k);
    const float max = max_of(xval, 16);
    if (max < 1e-8f) {
      scales[ib] = 0;
      continue;
    }
    float scale = search_block(g, s, max, xval, weight, waux, L);
    if (scale < 0) {
      scale = -scale;
      for (int k = 0; k < 2; ++k) signs[k] = uint8_t(~signs[k]);
    }
    for (int k = 0; k < 2; ++k) {
      const int index = g.index(key_of(g, L + 8 * k));
      const int i8 = 2 * ib + k;
      y.qs[i8] = uint8_t(index & 255);
      y.qh[i8 / 4] = uint8_t(y.qh[i8 / 4] | ((index >> 8) << 2 * (i8 % 4)));
      y.qs[32 + i8] = signs[k];
    }
    scales[ib] = scale;
    max_scale = fmax_(max_scale, scale);
  }
  if (max_scale == 0) return;
  const float d = max_scale / 31;
  y.d = f32_to_f16(d * 0.9875f);
  const float id = 1 / d;
  for (int ib = 0; ib < 16; ++ib) {
    const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 15);
    y.scales[ib / 2] = uint8_t(ib % 2 == 0 ? l : (y.scales[ib / 2] | (l << 4)));
  }
}

}  // namespace

void quant_iq3_xxs(const float* x, uint8_t* dst, int64_t nb) {
  auto* y = reinterpret_cast<blocks::IQ3_XXS*>(dst);
  for (int64_t i = 0; i < nb; ++i) iq3_xxs_block(x + kQK * i, y[i]);
}

void quant_iq3_s(const float* x, uint8_t* dst, int64_t nb) {
  auto* y = reinterpret_cast<blocks::IQ3_S*>(dst);
  for (int64_t i = 0; i < nb; ++i) iq3_s_block(x + kQK * i, y[i]);
}

void quant_iq2_s(const float* x, uint8_t* dst, int64_t nb) {
  auto* y = reinterpret_cast<blocks::IQ2_S*>(dst);
  for (int64_t i = 0; i < nb; ++i) iq2_s_block(x + kQK * i, y[i]);
}

}  // namespace g4::codecs

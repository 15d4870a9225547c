// Reference quantizer of IQ1_M without an importance matrix: ggml's quantize_row_iq1_m_impl with
// quant_weights == NULL, the same float operations in the same order, so the bytes are
// ggml_quantize_chunk's. Each 16 values take the levels -1, 0, 1 (shifted by +-delta per 8 values);
// the split into the three levels is searched exhaustively over the values in ascending order, then
// each 8 values off the grid are replaced by their best neighbour on it (iq_search.h).
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

constexpr float kDelta = 0.125f;  // IQ1M_DELTA
constexpr float kXp[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kXm[3] = {-1 - kDelta, -kDelta, 1 - kDelta};

inline float fmax_(float a, float b) { return a > b ? a : b; }
inline int clampi(int l, int hi) { return l < 0 ? 0 : (l < hi ? l : hi); }

// The level values of half h (0: first 8 values, 1: second) under shift k (0..3: ++, +-, -+, --).
inline const float* shifted(int k, int h) {
  return (h == 0 ? k < 2 : k % 2 == 0) ? kXp : kXm;
}

// ggml's iq1_find_best_neighbour2. Without a finite distance (non-finite input, where ggml aborts), the
// first neighbour is taken.
int best_neighbour(const GridSearch& g, uint32_t key, const float* xval, const float* weight, float scale,
                   const float* xg, int8_t* L) {
  const uint16_t* nb = g.neighbours_of(key);
  float best_d2 = FLT_MAX;
  int best = nb[1];
  for (int j = 1; j <= nb[0]; ++j) {
    const int8_t* p = g.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = xg[p[i]];
      const float w = weight[i];
      const float diff = scale * q - xval[i];
      d2 += w * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[j];
    }
  }
  std::memcpy(L, g.point(best), 8);
  return best;
}

struct Split {
  float scale;
  int i1 = -1, i2 = -1, k = -1;
};

// Exhaustive search of the two boundaries splitting the 16 values, in ascending order (`order`), into
// the levels 0, 1, 2, and of the shift: the best weighted least-squares fit.
Split best_split(const float* xb, const float* weight, const int* order, float max) {
  Split best{max};
  float best_score = -FLT_MAX;
  for (int i1 = 0; i1 <= 16; ++i1) {
    for (int i2 = i1; i2 <= 16; ++i2) {
      float sumqx[4] = {}, sumq2[4] = {};
      for (int j = 0; j < 16; ++j) {
        const int i = order[j];
        const int level = j < i1 ? 0 : j < i2 ? 1 : 2;
        for (int k = 0; k < 4; ++k) {
          const float q = shifted(k, i < 8 ? 0 : 1)[level];
          sumqx[k] += weight[i] * q * xb[i];
          sumq2[k] += weight[i] * q * q;
        }
      }
      for (int k = 0; k < 4; ++k) {
        if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
          best.scale = sumqx[k] / sumq2[k];
          best_score = best.scale * sumqx[k];
          best.i1 = i1;
          best.i2 = i2;
          best.k = k;
        }
      }
    }
  }
  return best;
}

// Indices of the 16 values in ascending order, equal values in index order: glibc's qsort, which ggml
// calls, is a stable merge sort for arrays this small. Insertion sort is stable too, and with NaN
// (comparisons false) it stays in bounds.
void ascending(const float* xb, int* order) {
  for (int j = 0; j < 16; ++j) {
    int p = j;
    while (p > 0 && xb[order[p - 1]] > xb[j]) {
      order[p] = order[p - 1];
      --p;
    }
    order[p] = j;
  }
}

// One 16-value sub-block: grid indices, scale and shift (0 scale: all zero or no fit).
void iq1_m_sub(const GridSearch& g, const float* xb, uint16_t index[2], float& scale, int& shift) {
  float weight[16];
  for (int i = 0; i < 16; ++i) weight[i] = xb[i] * xb[i];
  float max = std::fabs(xb[0]);
  for (int i = 1; i < 16; ++i) max = fmax_(max, std::fabs(xb[i]));
  scale = 0;
  shift = 0;
  index[0] = index[1] = 0;
  if (max < 1e-7f) return;
  int order[16];
  ascending(xb, order);
  Split sp = best_split(xb, weight, order, max);
  if (sp.i1 < 0 || sp.i2 < 0 || sp.k < 0) return;
  int8_t L[16];
  for (int j = 0; j < 16; ++j) L[order[j]] = int8_t(j < sp.i1 ? 0 : j < sp.i2 ? 1 : 2);
  if (sp.scale < 0) {
    for (int j = 0; j < 16; ++j) L[j] = int8_t(2 - L[j]);
    sp.scale = -sp.scale;
    sp.k = 3 - sp.k;
  }
  bool all_on_grid = true;
  for (int k = 0; k < 2; ++k) {
    uint32_t u = 0;
    for (int j = 0; j < 8; ++j) u |= uint32_t(L[8 * k + j]) << (2 * j);
    int gi = g.index(u);
    if (gi < 0) {
      all_on_grid = false;
      gi = best_neighbour(g, u, xb + 8 * k, weight + 8 * k, sp.scale, shifted(sp.k, k), L + 8 * k);
    }
    index[k] = uint16_t(gi);
  }
  if (!all_on_grid) {
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < 2; ++k) {
      const float* xx = shifted(sp.k, k);
      const int8_t* p = g.point(index[k]);
      for (int j = 0; j < 8; ++j) {
        const float w = weight[8 * k + j];
        const float q = xx[p[j]];
        sumqx += w * q * xb[8 * k + j];
        sumq2 += w * q * q;
      }
    }
    if (sumqx > 0 && sumq2 > 0) sp.scale = sumqx / sumq2;
  }
  scale = sp.scale;
  shift = sp.k;
}

void iq1_m_block(const float* xbl, blocks::IQ1_M& y) {
  const GridSearch& g = iq::iq1_search();
  static constexpr uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
  std::memset(&y, 0, sizeof y);
  float scales[16];
  int shifts[16];
  float max_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    uint16_t index[2];
    iq1_m_sub(g, xbl + 16 * ib, index, scales[ib], shifts[ib]);  // all zero when skipped
    y.qs[2 * ib + 0] = uint8_t(index[0] & 255);
    y.qs[2 * ib + 1] = uint8_t(index[1] & 255);
    y.qh[ib] = uint8_t((index[0] >> 8) | ((index[1] >> 8) << 4));
    max_scale = fmax_(max_scale, scales[ib]);
  }
  if (max_scale == 0) return;
  uint16_t sc[4] = {};
  float d = max_scale / 15;
  const float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int ib = 0; ib < 16; ++ib) {
    const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 7);
    sc[ib / 4] = uint16_t(sc[ib / 4] | (l << 3 * (ib % 4)));
    y.qh[ib] = uint8_t(y.qh[ib] | kMasks[shifts[ib]]);
    const float* xb = xbl + 16 * ib;
    for (int k = 0; k < 2; ++k) {
      const float* xx = shifted(shifts[ib], k);
      const int gi = y.qs[2 * ib + k] + ((y.qh[ib] << (8 - 4 * k)) & 0x700);
      const int8_t* p = g.point(gi);
      for (int j = 0; j < 8; ++j) {
        const float w = xb[8 * k + j] * xb[8 * k + j];
        const float q = xx[p[j]] * float(2 * l + 1);
        sumqx += w * q * xb[8 * k + j];
        sumq2 += w * q * q;
      }
    }
  }
  if (sumq2 > 0) d = sumqx / sumq2;
  const uint16_t s = f32_to_f16(d * 1.1125f);
  sc[0] = uint16_t(sc[0] | ((s & 0x000f) << 12));
  sc[1] = uint16_t(sc[1] | ((s & 0x00f0) << 8));
  sc[2] = uint16_t(sc[2] | ((s & 0x0f00) << 4));
  sc[3] = uint16_t(sc[3] | (s & 0xf000));
  std::memcpy(y.scales, sc, sizeof sc);
}

}  // namespace

void quant_iq1_m(const float* x, uint8_t* dst, int64_t nb) {
  auto* y = reinterpret_cast<blocks::IQ1_M*>(dst);
  for (int64_t i = 0; i < nb; ++i) iq1_m_block(x + 256 * i, y[i]);
}

}  // namespace g4::codecs

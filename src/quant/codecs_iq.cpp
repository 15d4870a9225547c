// Dequantization of ggml's grid formats (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M), bit-exact
// with ggml's dequantize_row_*: every group of 8 (IQ3: 4) values is a point of a fixed grid, with signs
// and a scale per 16 or 32 values. The float operations follow ggml's order one for one.
#include <cstring>

#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace g4::codecs {

namespace {

using namespace blocks;

inline float h2f(uint16_t h) { return f16_to_f32(h); }
template <class B>
const B* as(const uint8_t* p) { return reinterpret_cast<const B*>(p); }

inline uint8_t grid_byte(uint64_t entry, int j) { return uint8_t(entry >> (8 * j)); }

// Eight values db * grid[j] * (+-1).
inline void put8(float* y, float db, uint64_t grid, uint8_t signs) {
  for (int j = 0; j < 8; ++j) y[j] = db * float(grid_byte(grid, j)) * ((signs >> j) & 1 ? -1.f : 1.f);
}

// Four values each from two 4-value IQ3 grid points.
inline void put4x2(float* y, float db, uint32_t g1, uint32_t g2, uint8_t signs) {
  for (int j = 0; j < 4; ++j) {
    y[j] = db * float(uint8_t(g1 >> (8 * j))) * ((signs >> j) & 1 ? -1.f : 1.f);
    y[j + 4] = db * float(uint8_t(g2 >> (8 * j))) * ((signs >> (j + 4)) & 1 ? -1.f : 1.f);
  }
}

// Eight IQ1 values dl * (grid[j] + delta), grid bytes signed.
inline void put8_iq1(float* y, float dl, uint64_t grid, float delta) {
  for (int j = 0; j < 8; ++j) y[j] = dl * (float(int8_t(grid_byte(grid, j))) + delta);
}

}  // namespace

void deq_iq2_xxs(const uint8_t* src, float* y, int64_t nb) {
  const IQ2_XXS* b = as<IQ2_XXS>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      uint32_t aux[2];
      std::memcpy(aux, b[i].qs + 4 * ib, 8);
      const float db = d * (0.5f + float(aux[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8)
        put8(y, db, iq::kIq2xxsGrid[uint8_t(aux[0] >> (8 * l))], iq::iq_signs((aux[1] >> (7 * l)) & 127));
    }
  }
}

void deq_iq2_xs(const uint8_t* src, float* y, int64_t nb) {
  const IQ2_XS* b = as<IQ2_XS>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    for (int ib = 0; ib < 8; ++ib) {
      const float db[2] = {d * (0.5f + float(b[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(b[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = b[i].qs[4 * ib + l];
        put8(y, db[l / 2], iq::kIq2xsGrid[q & 511], iq::iq_signs(q >> 9));
      }
    }
  }
}

void deq_iq2_s(const uint8_t* src, float* y, int64_t nb) {
  const IQ2_S* b = as<IQ2_S>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* qs = b[i].qs;
    const uint8_t* signs = b[i].qs + 32;
    for (int ib = 0; ib < 8; ++ib, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + float(b[i].scales[ib] & 0xf)) * 0.25f,
                           d * (0.5f + float(b[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const int idx = qs[l] | ((b[i].qh[ib] << (8 - 2 * l)) & 0x300);
        put8(y, db[l / 2], iq::kIq2sGrid[idx], signs[l]);
      }
    }
  }
}

void deq_iq3_xxs(const uint8_t* src, float* y, int64_t nb) {
  const IQ3_XXS* b = as<IQ3_XXS>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* qs = b[i].qs;
    for (int ib = 0; ib < 8; ++ib, qs += 8) {
      uint32_t aux;
      std::memcpy(&aux, b[i].qs + 64 + 4 * ib, 4);
      const float db = d * (0.5f + float(aux >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8)
        put4x2(y, db, iq::kIq3xxsGrid[qs[2 * l]], iq::kIq3xxsGrid[qs[2 * l + 1]], iq::iq_signs((aux >> (7 * l)) & 127));
    }
  }
}

void deq_iq3_s(const uint8_t* src, float* y, int64_t nb) {
  const IQ3_S* b = as<IQ3_S>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* qs = b[i].qs;
    const uint8_t* qh = b[i].qh;
    const uint8_t* signs = b[i].signs;
    for (int ib = 0; ib < 8; ++ib, qs += 8, signs += 4) {
      // Sub-blocks come in pairs sharing a scale byte (low nibble, then high) and a pair of qh bytes.
      const int sc = ib % 2 == 0 ? (b[i].scales[ib / 2] & 0xf) : (b[i].scales[ib / 2] >> 4);
      const float db = d * float(1 + 2 * sc);
      const uint8_t h = qh[ib];
      for (int l = 0; l < 4; ++l, y += 8) {
        const int i1 = qs[2 * l] | ((h << (8 - 2 * l)) & 256);
        const int i2 = qs[2 * l + 1] | ((h << (7 - 2 * l)) & 256);
        put4x2(y, db, iq::kIq3sGrid[i1], iq::kIq3sGrid[i2], signs[l]);
      }
    }
  }
}

void deq_iq1_s(const uint8_t* src, float* y, int64_t nb) {
  const IQ1_S* b = as<IQ1_S>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(b[i].d);
    const uint8_t* qs = b[i].qs;
    for (int ib = 0; ib < 8; ++ib, qs += 4) {
      const uint16_t qh = b[i].qh[ib];
      const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -iq::kIq1Delta : iq::kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8) put8_iq1(y, dl, iq::kIq1sGrid[qs[l] | (((qh >> 3 * l) & 7) << 8)], delta);
    }
  }
}

void deq_iq1_m(const uint8_t* src, float* y, int64_t nb) {
  const IQ1_M* b = as<IQ1_M>(src);
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, b[i].scales, 8);
    const uint16_t s16 = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = h2f(s16);
    const uint8_t* qs = b[i].qs;
    const uint8_t* qh = b[i].qh;
    for (int ib = 0; ib < 8; ++ib, qs += 4, qh += 2) {
      const float dl1 = d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
      const float dl2 = d * float(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
      const int idx[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                          qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700)};
      const float delta[4] = {qh[0] & 0x08 ? -iq::kIq1Delta : iq::kIq1Delta, qh[0] & 0x80 ? -iq::kIq1Delta : iq::kIq1Delta,
                              qh[1] & 0x08 ? -iq::kIq1Delta : iq::kIq1Delta, qh[1] & 0x80 ? -iq::kIq1Delta : iq::kIq1Delta};
      for (int l = 0; l < 4; ++l, y += 8) put8_iq1(y, l < 2 ? dl1 : dl2, iq::kIq1sGrid[idx[l]], delta[l]);
    }
  }
}

}  // namespace g4::codecs

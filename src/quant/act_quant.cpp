// Activation quantization for the integer kernels, and the scalar reference of those kernels.
#include <cmath>
#include <cstring>

#include "core/arch.h"
#include "core/dtype.h"
#include "quant/blocks.h"
#include "quant/kernels_impl.h"
#include "quant/kernels_more.h"

namespace g4::kernels::impl {

namespace {
using namespace blocks;

bool is_float_type(WType t) { return t == WType::F32 || t == WType::F16 || t == WType::BF16; }

// Offset subtracted from the unsigned weight codes in the AVX-512 kernels (0: handled through mins), which
// makes each lane's bias -offset * the sum of its 4 activations.
int avx512_offset(WType t) {
  switch (t) {
    case WType::Q8_0: return 128;
    case WType::Q4_0: return 8;
    case WType::Q6_K: return 32;
    case WType::Q5_0: return 16;                    // kernels_nib_avx512.cpp
    case WType::Q4_1: case WType::Q5_1: return 0;  // mins, from ActQ::s
    default: return has_more_kernels(t) ? 128 : 0;  // IQ4_NL, MXFP4 (value tables + 128) and rows512_sb's signed codes
  }
}

// The AVX-512 layout of a row of codes, built by copying runs of 16 or 32 codes:
//  Q4_0: groups of 4 blocks (128 values): [b0 0-15, b1 0-15, b2 0-15, b3 0-15, b0 16-31, ...]; a partial
//        group at the end stays natural.
//  Q4_K/Q5_K: 32-value sub-blocks of each 256 in the order 0,2,1,3,4,6,5,7.
//  Others: natural.
void permute_to_avx512(WType t, const int8_t* q, int64_t cols, int8_t* out) {
  if (nibble_layout(t)) {
    const int64_t full = cols / 128 * 128;
    for (int64_t g = 0; g < full; g += 128)
      for (int b = 0; b < 4; ++b) {
        std::memcpy(out + g + 16 * b, q + g + 32 * b, 16);
        std::memcpy(out + g + 64 + 16 * b, q + g + 32 * b + 16, 16);
      }
    std::memcpy(out + full, q + full, size_t(cols - full));
    return;
  }
  if (t == WType::Q4_K || t == WType::Q5_K) {
    static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    for (int64_t sb = 0; sb < cols; sb += 256)
      for (int j = 0; j < 8; ++j) std::memcpy(out + sb + 32 * order[j], q + sb + 32 * j, 32);
    return;
  }
  std::memcpy(out, q, size_t(cols));
}

}  // namespace

void quantize_act_scalar(const float* x, int64_t cols, int8_t* q, float* d, float* s) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      const int v = int(std::nearbyint(xb[j] * id));
      q[b * 32 + j] = int8_t(v);
      sum += v;
    }
    d[b] = db;
    s[b] = db * float(sum);
  }
}

void ActBuffer::prepare(WType t, const float* x, size_t n_tokens, int64_t cols, Layout layout, bool use_avx512) {
  acts_.assign(n_tokens, ActQ{});
  if (is_float_type(t)) {
    for (size_t i = 0; i < n_tokens; ++i) acts_[i].x = x + i * size_t(cols);
    return;
  }
  const size_t n = n_tokens * size_t(cols), nb = size_t(cols / 32);
  q_.resize(n);
  d_.resize(n_tokens * nb);
  s_.resize(n_tokens * nb);
  const bool permuted = layout == Layout::Avx512;
  if (permuted) {
    qn_.resize(size_t(cols));
    dl_.resize(n / 4);
    bias_.resize(n / 4);
  }
  const int off = avx512_offset(t);
  for (size_t i = 0; i < n_tokens; ++i) {
    int8_t* qi = q_.data() + i * size_t(cols);
    float* di = d_.data() + i * nb;
    float* si = s_.data() + i * nb;
    int8_t* qdst = permuted ? qn_.data() : qi;
#if G4_X86
    if (use_avx512)
      quantize_act_avx512(x + i * size_t(cols), cols, qdst, di, si);
    else
#endif
      quantize_act_scalar(x + i * size_t(cols), cols, qdst, di, si);
    ActQ& a = acts_[i];
    a.x = x + i * size_t(cols);
    a.q = qi;
    a.d = di;
    a.s = si;
    if (!permuted) continue;
    permute_to_avx512(t, qdst, cols, qi);
    float* dl = dl_.data() + i * size_t(cols / 4);
    int32_t* bias = bias_.data() + i * size_t(cols / 4);
    a.dl = dl;
    a.bias = bias;
    if (nibble_layout(t)) {
      // Lane l of group g accumulates positions 4l..4l+3 and 64+4l..64+4l+3 (both from block 4g + l/4).
      const int64_t ng = cols / 128;
      for (int64_t g = 0; g < ng; ++g)
        for (int l = 0; l < 16; ++l) {
          const int8_t* p = qi + g * 128 + 4 * l;
          const int sum = p[0] + p[1] + p[2] + p[3] + p[64] + p[65] + p[66] + p[67];
          bias[g * 16 + l] = -off * sum;
          dl[g * 16 + l] = di[g * 4 + l / 4];
        }
    } else {
      for (int64_t l = 0; l < cols / 4; ++l) {
        const int8_t* p = qi + 4 * l;
        bias[l] = -off * (p[0] + p[1] + p[2] + p[3]);
        dl[l] = di[(4 * l) / 32];
      }
    }
  }
}

// ------------------------------------------------------------------ scalar reference of the int kernels

namespace {

inline float h2f(uint16_t h) { return f16_to_f32(h); }

template <class F>
void for_rows(const Weight& w, const ActQ* acts, int nt, int64_t r0, int64_t r1, float* y, size_t ldy, F row_dot) {
  for (int64_t r = r0; r < r1; ++r)
    for (int t = 0; t < nt; ++t) y[size_t(t) * ldy + size_t(r)] = row_dot(w.row_ptr(r), acts[t], w.cols);
}

float dot_q8_0(const uint8_t* row, const ActQ& a, int64_t cols) {
  const Q8_0* b = reinterpret_cast<const Q8_0*>(row);
  float acc = 0;
  for (int64_t i = 0; i < cols / 32; ++i) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += int(b[i].qs[j]) * a.q[i * 32 + j];
    acc += h2f(b[i].d) * a.d[i] * float(sum);
  }
  return acc;
}

float dot_q4_0(const uint8_t* row, const ActQ& a, int64_t cols) {
  const Q4_0* b = reinterpret_cast<const Q4_0*>(row);
  float acc = 0;
  for (int64_t i = 0; i < cols / 32; ++i) {
    int sum = 0;
    for (int j = 0; j < 16; ++j)
      sum += ((b[i].qs[j] & 15) - 8) * a.q[i * 32 + j] + ((b[i].qs[j] >> 4) - 8) * a.q[i * 32 + j + 16];
    acc += h2f(b[i].d) * a.d[i] * float(sum);
  }
  return acc;
}

template <bool Five>
float dot_qk45(const uint8_t* row, const ActQ& a, int64_t cols) {
  float acc = 0;
  for (int64_t i = 0; i < cols / 256; ++i) {
    const uint8_t* scales;
    const uint8_t* qs;
    const uint8_t* qh = nullptr;
    uint16_t dh, mh;
    if constexpr (Five) {
      const Q5_K* b = reinterpret_cast<const Q5_K*>(row) + i;
      scales = b->scales, qs = b->qs, qh = b->qh, dh = b->d, mh = b->dmin;
    } else {
      const Q4_K* b = reinterpret_cast<const Q4_K*>(row) + i;
      scales = b->scales, qs = b->qs, dh = b->d, mh = b->dmin;
    }
    const float d = h2f(dh), dmin = h2f(mh);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      blocks::k4_scale_min(scales, j, sc, m);
      const int8_t* aq = a.q + i * 256 + j * 32;
      int sum = 0;
      for (int l = 0; l < 32; ++l) {
        int v = (j & 1) ? (qs[(j / 2) * 32 + l] >> 4) : (qs[(j / 2) * 32 + l] & 15);
        if (Five && (qh[l] >> j) & 1) v += 16;
        sum += v * aq[l];
      }
      acc += d * float(sc) * a.d[i * 8 + j] * float(sum) - dmin * float(m) * a.s[i * 8 + j];
    }
  }
  return acc;
}

float dot_q6_k(const uint8_t* row, const ActQ& a, int64_t cols) {
  const Q6_K* b = reinterpret_cast<const Q6_K*>(row);
  float acc = 0;
  for (int64_t i = 0; i < cols / 256; ++i) {
    const float d = h2f(b[i].d);
    for (int seg = 0; seg < 16; ++seg) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) {
        const int e = seg * 16 + l, half = e / 128, w = e % 128, quarter = w / 32, k = w % 32;
        const uint8_t lq = b[i].ql[half * 64 + (quarter & 1) * 32 + k];
        const int lo = (quarter & 2) ? (lq >> 4) : (lq & 15);
        const int hi = (b[i].qh[half * 32 + k] >> (2 * quarter)) & 3;
        sum += ((lo | (hi << 4)) - 32) * a.q[i * 256 + e];
      }
      acc += d * float(b[i].scales[seg]) * a.d[i * 8 + seg / 2] * float(sum);
    }
  }
  return acc;
}

template <float (*Dot)(const uint8_t*, const ActQ&, int64_t)>
void rows_scalar(const Weight& w, const ActQ* acts, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  for_rows(w, acts, nt, r0, r1, y, ldy, Dot);
}

}  // namespace

RowsFn rows_fn_scalar_q8(WType t) {
  switch (t) {
    case WType::Q8_0: return rows_scalar<dot_q8_0>;
    case WType::Q4_0: return rows_scalar<dot_q4_0>;
    case WType::Q4_K: return rows_scalar<dot_qk45<false>>;
    case WType::Q5_K: return rows_scalar<dot_qk45<true>>;
    case WType::Q6_K: return rows_scalar<dot_q6_k>;
    default: return rows_fn_more_scalar(t);
  }
}

void matmul_q8_scalar_impl(const Weight& w, const float* x, size_t n_tokens, float* y) {
  ActBuffer buf;
  buf.prepare(w.type, x, n_tokens, w.cols, Layout::Natural, false);
  RowsFn fn = rows_fn_scalar_q8(w.type);
  for (size_t t = 0; t < n_tokens; ++t) fn(w, buf.acts() + t, 1, 0, w.rows, y + t * size_t(w.rows), size_t(w.rows));
}

}  // namespace g4::kernels::impl

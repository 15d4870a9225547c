// The tiled attention kernels behind attention() (see flash_attention.h): a block of query rows against
// the keys kBk at a time, with an online softmax.
//
// Exact (f32): each key tile is converted once into a transposed f32 tile KT[d][kBk], so the score
// micro-kernel streams 64 keys per dimension for four query rows at a time; values are converted into
// f32 rows and accumulated 64 output columns at a time.
//
// Fast (AMX-BF16): products in the tile unit, accumulated in f32 tiles.
//   S = Q K^T: A = queries [16 rows x 32 dims] as stored, B = keys in the pair layout KP[dim/2][key][2]
//              (each 16-key x 32-dim block transposed as 32-bit pairs), C = 16 x 16 scores. Queries and
//              keys are split into bf16 high and low parts and three products summed, so the scores keep
//              about 16 significant bits (one bf16 product gives 8: with head dims of 512, too coarse).
//   O += P V likewise: probabilities and values split into high and low parts, three products.
//   O += P V:  A = probabilities [16 rows x 32 keys], B = values in the pair layout VP[key/2][col][2]
//              (two consecutive value rows interleaved), C = 16 x 16 outputs, kept in memory between tiles.
// All eight tile registers are 16 rows x 64 bytes; every block is padded (rows to 32, dims to 32, keys to
// the tile) with zeros, and masked keys get probability 0 with finite (zero) values behind them.
// GCC 12's AVX-512 intrinsic headers trip its own uninitialized-variable warnings (masked loads); the
// pragmas must precede the headers, whose lines the warnings point at.
#include "core/arch.h"
#if G4_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "quant/amx_tiles.h"
#include "quant/blocks.h"
#include "quant/flash_attention_impl.h"
#include "quant/simd_math.h"


#define G4_AMX_FA __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,f16c,fma,amx-tile,amx-bf16")))

namespace g4::kernels::fa {

namespace {

#if G4_X86
using simd::exp_ps;
#endif

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

struct Scratch {
  std::vector<float> kt, v, s, o, m, l, tmp;
  std::vector<uint16_t> qb, pb;
  std::vector<uint32_t> kp, vp;
  std::vector<const float*> qrow;
};
Scratch& scratch() {
  static thread_local Scratch s;
  return s;
}

// The normalised output of the job's rows: O (rows of dv values) / l into the problem's output.
void write_rows(const TileJob& job, const float* o, int64_t dv, const float* l) {
  const AttnProblem& p = *job.p;
  const int64_t d = job.shape->d;
  const int nh = job.shape->nh, R = (job.t1 - job.t0) * nh;
  for (int r = 0; r < R; ++r) {
    float* dst = p.out + (job.t0 + r / nh) * p.out_stride + (r % nh) * d;
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (int64_t c = 0; c < d; ++c) dst[c] = o[r * dv + c] * inv;
  }
}

// Does any query token of the job see a key of [kb, ke)?
bool tile_visible(const AttnProblem& p, int t0, int t1, int64_t kb, int64_t ke) {
  for (int t = t0; t < t1; ++t)
    if (p.lo[t] < ke && p.hi[t] >= kb) return true;
  return false;
}

// ---- portable -----------------------------------------------------------------------------------------

// One row of scores (kBk, the first kn valid) -> probabilities against the running max (m, l).
// Returns the factor the row's earlier output must be multiplied by.
float softmax_row_portable(float* s, int kn, int64_t kb, int64_t lo, int64_t hi, float scale, float cap, float& m, float& l) {
  float mx = -INFINITY;
  for (int j = 0; j < kBk; ++j) {
    const int64_t pos = kb + j;
    float x = s[j] * scale;
    if (cap > 0) x = cap * std::tanh(x / cap);
    s[j] = (j < kn && pos >= lo && pos <= hi) ? x : -INFINITY;
    mx = std::max(mx, s[j]);
  }
  if (mx == -INFINITY) {
    std::fill(s, s + kBk, 0.0f);
    return 1.0f;
  }
  const float m_new = std::max(m, mx);
  const float corr = m == -INFINITY ? 0.0f : std::exp(m - m_new);
  float sum = 0;
  for (int j = 0; j < kBk; ++j) {
    s[j] = s[j] == -INFINITY ? 0.0f : std::exp(s[j] - m_new);
    sum += s[j];
  }
  l = l * corr + sum;
  m = m_new;
  return corr;
}

// ---- AVX-512 (f32 and the softmax shared with AMX) ----------------------------------------------------
#if G4_X86

G4_SIMD_AVX512 float softmax_row_avx512(float* s, int kn, int64_t kb, int64_t lo, int64_t hi, float scale, float cap,
                                        float& m, float& l) {
  const int64_t a64 = std::max<int64_t>(lo - kb, 0), b64 = std::min<int64_t>(hi - kb, kn - 1);
  const int a = int(std::min<int64_t>(a64, kBk)), b = int(std::max<int64_t>(b64, -1));
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 x[kBk / 16];
  __mmask16 ok[kBk / 16];
  __m512 vmax = ninf;
  for (int k = 0; k < kBk / 16; ++k) {
    __m512 v = _mm512_loadu_ps(s + 16 * k);
    if (scale != 1.0f) v = _mm512_mul_ps(v, _mm512_set1_ps(scale));
    if (cap > 0) v = simd::softcap_ps(v, cap);
    const __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32(16 * k));
    ok[k] = _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(a)) & _mm512_cmple_epi32_mask(idx, _mm512_set1_epi32(b));
    x[k] = _mm512_mask_mov_ps(ninf, ok[k], v);
    vmax = _mm512_max_ps(vmax, x[k]);
  }
  const float mx = _mm512_reduce_max_ps(vmax);
  if (mx == -INFINITY) {
    for (int k = 0; k < kBk / 16; ++k) _mm512_storeu_ps(s + 16 * k, _mm512_setzero_ps());
    return 1.0f;
  }
  const float m_new = std::max(m, mx);
  const float corr = m == -INFINITY ? 0.0f : std::exp(m - m_new);
  const __m512 vm = _mm512_set1_ps(m_new);
  __m512 sum = _mm512_setzero_ps();
  for (int k = 0; k < kBk / 16; ++k) {
    const __m512 e = _mm512_maskz_mov_ps(ok[k], exp_ps(_mm512_sub_ps(x[k], vm)));
    sum = _mm512_add_ps(sum, e);
    _mm512_storeu_ps(s + 16 * k, e);
  }
  l = l * corr + _mm512_reduce_add_ps(sum);
  m = m_new;
  return corr;
}

G4_SIMD_AVX512 void scale_row_avx512(float* o, float f, int64_t n) {  // n a multiple of 16
  const __m512 vf = _mm512_set1_ps(f);
  for (int64_t c = 0; c < n; c += 16) _mm512_storeu_ps(o + c, _mm512_mul_ps(_mm512_loadu_ps(o + c), vf));
}

// S[r][0..kBk) = q_r . KT[:, 0..kBk) for MR rows.
template <int MR>
G4_SIMD_AVX512 void s_tile_f32(const float* const* q, int64_t d, const float* kt, float* s) {
  constexpr int NK = kBk / 16;
  __m512 acc[MR][NK];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int k = 0; k < NK; ++k) acc[r][k] = _mm512_setzero_ps();
  for (int64_t c = 0; c < d; ++c) {
    const float* kc = kt + c * kBk;
    __m512 kv[NK];
    #pragma GCC unroll 16
    for (int k = 0; k < NK; ++k) kv[k] = _mm512_loadu_ps(kc + 16 * k);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 b = _mm512_set1_ps(q[r][c]);
      #pragma GCC unroll 16
      for (int k = 0; k < NK; ++k) acc[r][k] = _mm512_fmadd_ps(b, kv[k], acc[r][k]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int k = 0; k < NK; ++k) _mm512_storeu_ps(s + r * kBk + 16 * k, acc[r][k]);
}

// O[r][c0 .. c0 + 16 NC) += sum_j P[r][j] V[j][...] for MR rows.
template <int MR, int NC>
G4_SIMD_AVX512 void pv_tile_f32(const float* p, int kn, const float* v, int64_t dv, float* o, int64_t c0) {
  __m512 acc[MR][NC];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int k = 0; k < NC; ++k) acc[r][k] = _mm512_loadu_ps(o + r * dv + c0 + 16 * k);
  for (int j = 0; j < kn; ++j) {
    __m512 vv[NC];
    #pragma GCC unroll 16
    for (int k = 0; k < NC; ++k) vv[k] = _mm512_loadu_ps(v + j * dv + c0 + 16 * k);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 b = _mm512_set1_ps(p[r * kBk + j]);
      #pragma GCC unroll 16
      for (int k = 0; k < NC; ++k) acc[r][k] = _mm512_fmadd_ps(b, vv[k], acc[r][k]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int k = 0; k < NC; ++k) _mm512_storeu_ps(o + r * dv + c0 + 16 * k, acc[r][k]);
}

template <int MR>
G4_SIMD_AVX512 void pv_rows_f32(const float* p, int kn, const float* v, int64_t dv, float* o) {
  int64_t c = 0;
  for (; c + 64 <= dv; c += 64) pv_tile_f32<MR, 4>(p, kn, v, dv, o, c);
  for (; c < dv; c += 16) pv_tile_f32<MR, 1>(p, kn, v, dv, o, c);
}

// Keys [kb, kb + kn) -> KT[c][j] (f32, transposed; keys past kn are zero). tmp holds 16 rows of dv.
G4_SIMD_AVX512 void keys_transposed_avx512(const AttnShape& sh, const AttnProblem& p, int64_t kb, int kn, int64_t dv,
                                           float* tmp, float* kt) {
  const int64_t d = sh.d;
  for (int j0 = 0; j0 < kBk; j0 += 16) {
    for (int i = 0; i < 16; ++i) {
      float* row = tmp + i * dv;
      if (j0 + i < kn) row_to_f32(sh.k_type, p.k.at(kb + j0 + i), d, dv, row, true);
      else std::memset(row, 0, size_t(dv) * sizeof(float));
    }
    for (int64_t c0 = 0; c0 < dv; c0 += 16) {
      __m512i r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_castps_si512(_mm512_loadu_ps(tmp + i * dv + c0));
      simd::transpose16x16_epi32(r);
      for (int i = 0; i < 16 && c0 + i < d; ++i) _mm512_storeu_ps(kt + (c0 + i) * kBk + j0, _mm512_castsi512_ps(r[i]));
    }
  }
}
#endif  // G4_X86

}  // namespace

#if G4_X86
G4_SIMD_AVX512 static void row_to_f32_avx512(WType type, const uint8_t* row, int64_t d, float* out) {
  int64_t c = 0;
  switch (type) {
    case WType::F32:
      std::memcpy(out, row, size_t(d) * sizeof(float));
      return;
    case WType::F16:
    case WType::BF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
      for (; c < d; c += 16) {
        const __mmask16 m = d - c >= 16 ? __mmask16(0xffff) : __mmask16((1u << (d - c)) - 1);
        const __m256i x = _mm256_maskz_loadu_epi16(m, h + c);
        const __m512 f = type == WType::F16 ? _mm512_cvtph_ps(x)
                                            : _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(x), 16));
        _mm512_mask_storeu_ps(out + c, m, f);
      }
      return;
    }
    case WType::Q8_0: {
      const blocks::Q8_0* b = reinterpret_cast<const blocks::Q8_0*>(row);
      for (int64_t i = 0; i < d / blocks::QK; ++i) {
        const __m512 s = _mm512_set1_ps(f16_to_f32(b[i].d));
        for (int h = 0; h < 2; ++h) {
          const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs + 16 * h)));
          _mm512_storeu_ps(out + i * 32 + 16 * h, _mm512_mul_ps(s, _mm512_cvtepi32_ps(q)));
        }
      }
      return;
    }
    case WType::Q4_0: {
      const blocks::Q4_0* b = reinterpret_cast<const blocks::Q4_0*>(row);
      for (int64_t i = 0; i < d / blocks::QK; ++i) {
        const __m512 s = _mm512_set1_ps(f16_to_f32(b[i].d));
        const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs)));
        const __m512i eight = _mm512_set1_epi32(8);
        const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, _mm512_set1_epi32(15)), eight);
        const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
        _mm512_storeu_ps(out + i * 32, _mm512_mul_ps(s, _mm512_cvtepi32_ps(lo)));
        _mm512_storeu_ps(out + i * 32 + 16, _mm512_mul_ps(s, _mm512_cvtepi32_ps(hi)));
      }
      return;
    }
    default: {
      const Weight w{row, type, 1, d};
      dequantize_row(w, 0, out);
    }
  }
}

#endif  // G4_X86

void row_to_f32(WType type, const uint8_t* row, int64_t d, int64_t padded, float* out, bool avx512) {
#if G4_X86
  if (avx512) {
    row_to_f32_avx512(type, row, d, out);
  } else
#endif
  {
    const Weight w{row, type, 1, d};
    dequantize_row(w, 0, out);
  }
  if (padded > d) std::memset(out + d, 0, size_t(padded - d) * sizeof(float));
}

// ---- Exact: f32 tiles ---------------------------------------------------------------------------------

void tiles_f32(const TileJob& job, bool avx512) {
  const AttnShape& sh = *job.shape;
  const AttnProblem& p = *job.p;
  const int64_t d = sh.d, dv = round_up(d, 16);
  const int nh = sh.nh, R = (job.t1 - job.t0) * nh;
  Scratch& S = scratch();
  float* kt = grow(S.kt, size_t(d * kBk));
  float* v = grow(S.v, size_t(kBk * dv));
  float* s = grow(S.s, size_t(R) * kBk);
  float* o = grow(S.o, size_t(R * dv));
  float* m = grow(S.m, size_t(R));
  float* l = grow(S.l, size_t(R));
  float* tmp = grow(S.tmp, size_t(16 * dv));
  const float** q = grow(S.qrow, size_t(R));
  for (int r = 0; r < R; ++r) q[r] = p.q + (job.t0 + r / nh) * p.q_stride + (r % nh) * d;
  std::fill(o, o + R * dv, 0.0f);
  std::fill(m, m + R, -INFINITY);
  std::fill(l, l + R, 0.0f);

  for (int64_t kb = job.k0; kb < job.k1; kb += kBk) {
    const int kn = int(std::min<int64_t>(kBk, job.k1 - kb));
    if (!tile_visible(p, job.t0, job.t1, kb, kb + kn)) continue;
    // Keys, transposed, once for every query row of the job.
#if G4_X86
    if (avx512) {
      keys_transposed_avx512(sh, p, kb, kn, dv, tmp, kt);
    } else
#endif
    {
      for (int j = 0; j < kBk; ++j) {
        if (j < kn) row_to_f32(sh.k_type, p.k.at(kb + j), d, dv, tmp, false);
        else std::fill(tmp, tmp + dv, 0.0f);
        for (int64_t c = 0; c < d; ++c) kt[c * kBk + j] = tmp[c];
      }
    }
    // Scores.
    int r = 0;
#if G4_X86
    if (avx512) {
      for (; r + 4 <= R; r += 4) s_tile_f32<4>(q + r, d, kt, s + r * kBk);
      for (; r < R; ++r) s_tile_f32<1>(q + r, d, kt, s + r * kBk);
    } else
#endif
    {
      for (; r < R; ++r)
        for (int j = 0; j < kBk; ++j) {
          float acc = 0;
          for (int64_t c = 0; c < d; ++c) acc += q[r][c] * kt[c * kBk + j];
          s[r * kBk + j] = acc;
        }
    }
    // Online softmax; rescale the rows whose maximum grew.
    for (r = 0; r < R; ++r) {
      const int t = job.t0 + r / nh;
      float* sr = s + r * kBk;
#if G4_X86
      if (avx512) {
        const float corr = softmax_row_avx512(sr, kn, kb, p.lo[t], p.hi[t], sh.scale, sh.softcap, m[r], l[r]);
        if (corr != 1.0f) scale_row_avx512(o + r * dv, corr, dv);
        continue;
      }
#endif
      const float corr = softmax_row_portable(sr, kn, kb, p.lo[t], p.hi[t], sh.scale, sh.softcap, m[r], l[r]);
      if (corr != 1.0f)
        for (int64_t c = 0; c < dv; ++c) o[r * dv + c] *= corr;
    }
    // Values, once for every query row; O += P V.
    for (int j = 0; j < kn; ++j) row_to_f32(sh.v_type, p.v.at(kb + j), d, dv, v + j * dv, avx512);
    r = 0;
#if G4_X86
    if (avx512) {
      for (; r + 4 <= R; r += 4) pv_rows_f32<4>(s + r * kBk, kn, v, dv, o + r * dv);
      for (; r < R; ++r) pv_rows_f32<1>(s + r * kBk, kn, v, dv, o + r * dv);
    } else
#endif
    {
      for (; r < R; ++r)
        for (int j = 0; j < kn; ++j) {
          const float pj = s[r * kBk + j];
          if (pj != 0.0f)
            for (int64_t c = 0; c < d; ++c) o[r * dv + c] += pj * v[j * dv + c];
        }
    }
  }
  write_rows(job, o, dv, l);
}

// ---- Fast: AMX-BF16 tiles -----------------------------------------------------------------------------

#if G4_X86
namespace {

// Every tile register 16 rows x 64 bytes (A, B and C alike).
G4_AMX_FA void configure_tiles() {
  AmxTileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

// 16 f32 values as hi + lo, both bf16: hi = bf16(x), lo = bf16(x - hi); hi + lo carries 16 significant bits.
G4_AMX_FA inline void split16(__m512 x, __m256i& hi, __m256i& lo) {
  hi = (__m256i)_mm512_cvtneps_pbh(x);
  const __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16));
  lo = (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(x, back));
}

// 32 f32 values -> the bf16 pairs of their high and low parts.
G4_AMX_FA inline void split_pairs(const float* x, __m512i& hi, __m512i& lo) {
  __m256i h0, l0, h1, l1;
  split16(_mm512_loadu_ps(x), h0, l0);
  split16(_mm512_loadu_ps(x + 16), h1, l1);
  hi = _mm512_inserti64x4(_mm512_castsi256_si512(h0), h1, 1);
  lo = _mm512_inserti64x4(_mm512_castsi256_si512(l0), l1, 1);
}

// Keys [kb, kb + kn) -> KP[dim/2][key] bf16 pairs in three stacked parts [hi | lo | hi] of dp/2 pair-rows
// each, to meet the queries' [hi | hi | lo]: their product is q_hi.k_hi + q_hi.k_lo + q_lo.k_hi, the
// scores to about 16 significant bits (plain bf16 gives 8, too few for head dims of 512). Keys from kn
// up to the next multiple of 16 are zero.
G4_AMX_FA void keys_pairs(const AttnShape& sh, const AttnProblem& p, int64_t kb, int kn, int64_t dp, float* tmp,
                          uint32_t* kp) {
  for (int j0 = 0; j0 < kn; j0 += 16) {
    for (int i = 0; i < 16; ++i) {
      float* row = tmp + i * dp;
      if (j0 + i < kn) row_to_f32(sh.k_type, p.k.at(kb + j0 + i), sh.d, dp, row, true);
      else std::memset(row, 0, size_t(dp) * sizeof(float));
    }
    for (int64_t c0 = 0; c0 < dp; c0 += 32) {
      __m512i hi[16], lo[16];
      for (int i = 0; i < 16; ++i) split_pairs(tmp + i * dp + c0, hi[i], lo[i]);
      simd::transpose16x16_epi32(hi);
      simd::transpose16x16_epi32(lo);
      for (int i = 0; i < 16; ++i) {
        const int64_t row = c0 / 2 + i;
        _mm512_storeu_si512(kp + row * kBk + j0, hi[i]);
        _mm512_storeu_si512(kp + (dp / 2 + row) * kBk + j0, lo[i]);
        _mm512_storeu_si512(kp + (dp + row) * kBk + j0, hi[i]);
      }
    }
  }
}

// a0 b0 a1 b1 ... a15 b15 (16-bit elements).
G4_AMX_FA inline __m512i interleave16(__m512i order, __m256i a, __m256i b) {
  return _mm512_permutexvar_epi16(order, _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1));
}

// Values [kb, kb + kn) -> VP[key/2][col] bf16 pairs, in three stacked parts [hi ; lo ; hi] of kBk/2
// pair-rows each, to meet the probabilities' [hi | hi | lo] (the same three-product split as the
// scores). Rows past kn (to the next multiple of 32) are zero.
G4_AMX_FA void values_pairs(const AttnShape& sh, const AttnProblem& p, int64_t kb, int kn, int64_t dv, float* tmp,
                            uint32_t* vp) {
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const int kn32 = int(round_up(kn, 32));
  for (int j = 0; j < kn32; j += 2) {
    float* r0 = tmp;
    float* r1 = tmp + dv;
    if (j < kn) row_to_f32(sh.v_type, p.v.at(kb + j), sh.d, dv, r0, true);
    else std::memset(r0, 0, size_t(dv) * sizeof(float));
    if (j + 1 < kn) row_to_f32(sh.v_type, p.v.at(kb + j + 1), sh.d, dv, r1, true);
    else std::memset(r1, 0, size_t(dv) * sizeof(float));
    for (int64_t c = 0; c < dv; c += 16) {
      __m256i ah, al, bh, bl;
      split16(_mm512_loadu_ps(r0 + c), ah, al);
      split16(_mm512_loadu_ps(r1 + c), bh, bl);
      const __m512i hi = interleave16(interleave, ah, bh), lo = interleave16(interleave, al, bl);
      _mm512_storeu_si512(vp + (j / 2) * dv + c, hi);
      _mm512_storeu_si512(vp + (kBk / 2 + j / 2) * dv + c, lo);
      _mm512_storeu_si512(vp + (kBk + j / 2) * dv + c, hi);
    }
  }
}

// Probabilities of one row (kBk f32) -> bf16 [hi | hi | lo].
G4_AMX_FA void probabilities_bf16(const float* p, uint16_t* pb) {
  for (int k = 0; k < kBk; k += 32) {
    __m512i hi, lo;
    split_pairs(p + k, hi, lo);
    _mm512_storeu_si512(pb + k, hi);
    _mm512_storeu_si512(pb + kBk + k, hi);
    _mm512_storeu_si512(pb + 2 * kBk + k, lo);
  }
}

// S[Rp][kBk] (the first round_up(kn, 32) keys) = Q KP, two 16-row strips by two 16-key groups at a time.
G4_AMX_FA void scores_amx(const uint16_t* qb, int Rp, int64_t dp, const uint32_t* kp, int kn, float* s) {
  const int kn32 = int(round_up(kn, 32));
  for (int sp = 0; sp < Rp; sp += 32) {
    for (int kg = 0; kg < kn32; kg += 32) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int64_t c = 0; c < dp; c += 32) {
        _tile_loadd(4, qb + sp * dp + c, dp * 2);
        _tile_loadd(5, qb + (sp + 16) * dp + c, dp * 2);
        _tile_loadd(6, kp + (c / 2) * kBk + kg, kBk * 4);
        _tile_loadd(7, kp + (c / 2) * kBk + kg + 16, kBk * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      _tile_stored(0, s + sp * kBk + kg, kBk * 4);
      _tile_stored(1, s + sp * kBk + kg + 16, kBk * 4);
      _tile_stored(2, s + (sp + 16) * kBk + kg, kBk * 4);
      _tile_stored(3, s + (sp + 16) * kBk + kg + 16, kBk * 4);
    }
  }
}

// O[Rp][dv] += P VP over the first round_up(kn, 32) keys of each of the three parts.
G4_AMX_FA void values_amx(const uint16_t* pb, int Rp, const uint32_t* vp, int kn, int64_t dv, float* o) {
  const int kn32 = int(round_up(kn, 32));
  constexpr int ld = 3 * kBk;  // bf16 per probability row
  for (int sp = 0; sp < Rp; sp += 32) {
    for (int64_t c = 0; c < dv; c += 32) {
      _tile_loadd(0, o + sp * dv + c, dv * 4);
      _tile_loadd(1, o + sp * dv + c + 16, dv * 4);
      _tile_loadd(2, o + (sp + 16) * dv + c, dv * 4);
      _tile_loadd(3, o + (sp + 16) * dv + c + 16, dv * 4);
      for (int part = 0; part < 3; ++part)
        for (int kc = 0; kc < kn32; kc += 32) {
          const int a = part * kBk + kc;
          _tile_loadd(4, pb + sp * ld + a, ld * 2);
          _tile_loadd(5, pb + (sp + 16) * ld + a, ld * 2);
          _tile_loadd(6, vp + (a / 2) * dv + c, dv * 4);
          _tile_loadd(7, vp + (a / 2) * dv + c + 16, dv * 4);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      _tile_stored(0, o + sp * dv + c, dv * 4);
      _tile_stored(1, o + sp * dv + c + 16, dv * 4);
      _tile_stored(2, o + (sp + 16) * dv + c, dv * 4);
      _tile_stored(3, o + (sp + 16) * dv + c + 16, dv * 4);
    }
  }
}

// Query rows -> bf16 rows [hi | hi | lo] of 3 dp values (see keys_pairs); rows R..Rp are zero.
G4_AMX_FA void queries_bf16(const AttnProblem& p, int t0, int nh, int64_t d, int R, int Rp, int64_t dp, float* tmp,
                            uint16_t* qb) {
  const int64_t dq = 3 * dp;
  std::memset(qb, 0, size_t(Rp * dq) * sizeof(uint16_t));
  for (int r = 0; r < R; ++r) {
    const float* src = p.q + (t0 + r / nh) * p.q_stride + (r % nh) * d;
    std::memcpy(tmp, src, size_t(d) * sizeof(float));
    std::memset(tmp + d, 0, size_t(dp - d) * sizeof(float));
    uint16_t* row = qb + r * dq;
    for (int64_t c = 0; c < dp; c += 32) {
      __m512i hi, lo;
      split_pairs(tmp + c, hi, lo);
      _mm512_storeu_si512(row + c, hi);
      _mm512_storeu_si512(row + dp + c, hi);
      _mm512_storeu_si512(row + 2 * dp + c, lo);
    }
  }
}

}  // namespace

bool amx_bf16_ready() {
  static const bool ok = [] {
    const CpuFeatures& f = cpu_features();
    return f.has_avx512_vnni_level() && f.avx512bf16 && f.amx_tile && f.amx_bf16 && amx_enable();
  }();
  return ok;
}

G4_AMX_FA void tiles_amx(const TileJob& job) {
  const AttnShape& sh = *job.shape;
  const AttnProblem& p = *job.p;
  const int64_t d = sh.d, dp = round_up(d, 32), dv = dp;
  const int nh = sh.nh, R = (job.t1 - job.t0) * nh, Rp = int(round_up(R, 32));
  Scratch& S = scratch();
  uint16_t* qb = grow(S.qb, size_t(Rp * 3 * dp));
  uint32_t* kp = grow(S.kp, size_t(3 * dp / 2 * kBk));
  uint32_t* vp = grow(S.vp, size_t(3 * kBk / 2 * dv));
  float* s = grow(S.s, size_t(Rp) * kBk);
  uint16_t* pb = grow(S.pb, size_t(Rp) * 3 * kBk);
  float* o = grow(S.o, size_t(Rp * dv));
  float* m = grow(S.m, size_t(R));
  float* l = grow(S.l, size_t(R));
  float* tmp = grow(S.tmp, size_t(16 * dp));
  std::memset(pb, 0, size_t(Rp) * 3 * kBk * sizeof(uint16_t));
  std::memset(o, 0, size_t(Rp * dv) * sizeof(float));
  std::fill(m, m + R, -INFINITY);
  std::fill(l, l + R, 0.0f);
  queries_bf16(p, job.t0, nh, d, R, Rp, dp, tmp, qb);
  configure_tiles();

  for (int64_t kb = job.k0; kb < job.k1; kb += kBk) {
    const int kn = int(std::min<int64_t>(kBk, job.k1 - kb));
    if (!tile_visible(p, job.t0, job.t1, kb, kb + kn)) continue;
    keys_pairs(sh, p, kb, kn, dp, tmp, kp);
    scores_amx(qb, Rp, 3 * dp, kp, kn, s);
    for (int r = 0; r < R; ++r) {
      const int t = job.t0 + r / nh;
      float* sr = s + r * kBk;
      const float corr = softmax_row_avx512(sr, kn, kb, p.lo[t], p.hi[t], sh.scale, sh.softcap, m[r], l[r]);
      if (corr != 1.0f) scale_row_avx512(o + r * dv, corr, dv);
      probabilities_bf16(sr, pb + r * 3 * kBk);
    }
    values_pairs(sh, p, kb, kn, dv, tmp, vp);
    values_amx(pb, Rp, vp, kn, dv, o);
  }
  write_rows(job, o, dv, l);
}

#else
bool amx_bf16_ready() { return false; }  // AMX is x86-64 only (tiles_amx is never called)
#endif  // G4_X86

}  // namespace g4::kernels::fa

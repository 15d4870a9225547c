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
// initial value; Q4_K/Q5_K subtract their per-sub-block minimum with one more FMA.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "quant/blocks.h"
#include "quant/kernels_impl.h"

namespace g4::kernels::impl {

namespace {
using namespace blocks;

constexpr int kLanes = 16;                    // rows per group: one int32 lane each
constexpr int kGroups = 3;                    // groups per panel: 48 rows share each activation broadcast
constexpr int kPanelRows = kLanes * kGroups;
constexpr int kCodeBytes = 8 * 64;            // one 32-value block of 16 rows: 8 vectors of 16 x 4 codes
constexpr int kGroupBlockBytes = kCodeBytes + 2 * 64;  // + 16 f32 scales + 16 f32 mins
constexpr int kMaxTokens = 4;                 // tokens per register tile
constexpr int64_t kChunkBlocks = 64;          // 2048 columns of a panel repacked at a time (~120 KiB)

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// Unpacks row r of w into unsigned codes (one byte per element) and per-32 scale / min, such that
// element = scale * code - min - offset * scale (offset from gemm_int8_offset; min is 0 for Q4_0/Q8_0).
// scale[b * sstride] / min[b * sstride] receive block b's values.
void unpack_row(const Weight& w, int64_t r, int64_t b0, int64_t nb, uint8_t* codes, float* scale, float* min,
                int64_t sstride) {
  const uint8_t* row = w.row_ptr(r);
  switch (w.type) {
    case WType::Q4_0: {
      const Q4_0* b = reinterpret_cast<const Q4_0*>(row) + b0;
      const __m128i m4 = _mm_set1_epi8(0x0f);
      for (int64_t i = 0; i < nb; ++i) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + 32 * i), _mm_and_si128(v, m4));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + 32 * i + 16), _mm_and_si128(_mm_srli_epi16(v, 4), m4));
        scale[i * sstride] = h2f(b[i].d);
        min[i * sstride] = 0.0f;
      }
      return;
    }
    case WType::Q8_0: {
      const Q8_0* b = reinterpret_cast<const Q8_0*>(row) + b0;
      const __m256i flip = _mm256_set1_epi8(char(0x80));
      for (int64_t i = 0; i < nb; ++i) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + 32 * i), _mm256_xor_si256(v, flip));
        scale[i * sstride] = h2f(b[i].d);
        min[i * sstride] = 0.0f;
      }
      return;
    }
    case WType::Q4_K:
    case WType::Q5_K: {
      // b0 and nb are multiples of 8 (whole super-blocks): the caller chunks columns by kChunkBlocks.
      const bool five = w.type == WType::Q5_K;
      const size_t sbytes = five ? sizeof(Q5_K) : sizeof(Q4_K);
      const __m256i m4 = _mm256_set1_epi8(0x0f);
      for (int64_t s = 0; s < nb / 8; ++s) {
        const uint8_t* blk = row + size_t(b0 / 8 + s) * sbytes;
        uint16_t dh, mh;
        std::memcpy(&dh, blk, 2);
        std::memcpy(&mh, blk + 2, 2);
        const float d = h2f(dh), dmin = h2f(mh);
        const uint8_t* sc = blk + 4;
        const uint8_t* qs = blk + (five ? 48 : 16);
        const uint8_t* qh = blk + 16;
        uint8_t* out = codes + 256 * s;
        for (int c = 0; c < 4; ++c) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
          __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
          if (five) {
            const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
            const __m256i bit_lo = _mm256_set1_epi8(char(1 << (2 * c))), bit_hi = _mm256_set1_epi8(char(2 << (2 * c)));
            const __m256i sixteen = _mm256_set1_epi8(16);
            lo = _mm256_add_epi8(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit_lo), bit_lo), sixteen));
            hi = _mm256_add_epi8(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit_hi), bit_hi), sixteen));
          }
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * c), lo);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 64 * c + 32), hi);
        }
        for (int j = 0; j < 8; ++j) {
          int scj, mj;
          k4_scale_min(sc, j, scj, mj);
          scale[(8 * s + j) * sstride] = d * float(scj);
          min[(8 * s + j) * sstride] = dmin * float(mj);
        }
      }
      return;
    }
    default:
      return;
  }
}

// Transposes 16 rows x 8 dwords (32 codes of one block per row, rows `stride` bytes apart) into 8
// vectors: vector j holds dword j of rows 0..15. Three rounds of shuffles, no gathers (slow on some CPUs).
inline void transpose_16x8(const uint8_t* src, int64_t stride, uint8_t* dst) {
  __m512i z[8], t[8], u[8];
  #pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i * stride))),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + (i + 8) * stride)), 1);
  #pragma GCC unroll 4
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_unpacklo_epi32(z[i], z[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(z[i], z[i + 1]);
  }
  #pragma GCC unroll 2
  for (int h = 0; h < 8; h += 4) {
    u[h] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
    u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
    u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
    u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
  }
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  #pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    _mm512_store_si512(dst + 64 * c, _mm512_permutex2var_epi64(u[c], lo, u[c + 4]));
    _mm512_store_si512(dst + 64 * (c + 4), _mm512_permutex2var_epi64(u[c], hi, u[c + 4]));
  }
}

// Asks for rows [r, r + nrows) x blocks [b0, b0 + nb) to be brought into the cache.
template <bool ToL1>  // L1 (just before use) or L2 (a chunk ahead)
void prefetch_chunk(const Weight& w, int64_t r, int nrows, int64_t b0, int64_t nb) {
  const WTypeInfo& info = wtype_info(w.type);
  const size_t begin = size_t(b0 * 32 / info.block_elems) * size_t(info.block_bytes);
  const size_t bytes = size_t(nb * 32 / info.block_elems) * size_t(info.block_bytes);
  for (int i = 0; i < nrows; ++i) {
    const char* p = reinterpret_cast<const char*>(w.row_ptr(r + i)) + begin;
    for (size_t off = 0; off < bytes; off += 64) {
      if constexpr (ToL1) _mm_prefetch(p + off, _MM_HINT_T0);
      else _mm_prefetch(p + off, _MM_HINT_T1);
    }
  }
}

// Repacks rows [r, r + nrows) x blocks [b0, b0 + nb) into the panel layout: for block b and group g,
// kGroupBlockBytes at panel + (b * kGroups + g) * kGroupBlockBytes. Rows past nrows are zero.
struct Repacker {
  std::vector<uint8_t> codes;      // [kPanelRows][32 * nb]
  std::vector<float> scale, min;   // [nb][kPanelRows]: the 16 values a group needs are contiguous

  void run(const Weight& w, int64_t r, int nrows, int64_t b0, int64_t nb, uint8_t* panel) {
    const int64_t stride = 32 * nb;
    codes.resize(size_t(kPanelRows * stride));
    // Rows past the matrix read as zeros (their results are masked off; zeros keep them finite).
    std::fill(codes.begin() + nrows * stride, codes.end(), uint8_t(0));
    scale.assign(size_t(kPanelRows * nb), 0.0f);
    min.assign(size_t(kPanelRows * nb), 0.0f);
    constexpr int kAhead = 4;  // rows requested ahead of the one being unpacked (DRAM latency)
    prefetch_chunk<true>(w, r, std::min(kAhead, nrows), b0, nb);
    for (int i = 0; i < nrows; ++i) {
      if (i + kAhead < nrows) prefetch_chunk<true>(w, r + i + kAhead, 1, b0, nb);
      unpack_row(w, r + i, b0, nb, codes.data() + i * stride, scale.data() + i, min.data() + i, kPanelRows);
    }
    for (int g = 0; g < kGroups; ++g) {
      const uint8_t* src = codes.data() + kLanes * g * stride;
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* dst = panel + (size_t(b) * kGroups + size_t(g)) * kGroupBlockBytes;
        transpose_16x8(src + 32 * b, stride, dst);
        const size_t at = size_t(b * kPanelRows + kLanes * g);
        _mm512_store_ps(dst + kCodeBytes, _mm512_loadu_ps(scale.data() + at));
        _mm512_store_ps(dst + kCodeBytes + 64, _mm512_loadu_ps(min.data() + at));
      }
    }
  }
};

// y[t][r + lane] (+)= panel rows x tokens [0, NT) over nb blocks of the chunk starting at block b0.
template <int NT, bool Mins>
void micro(const uint8_t* panel, int64_t nb, const Int8Acts& a, size_t t0, int64_t b0, float* y, size_t ldy,
           const __mmask16* mask, bool first) {
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
  #pragma GCC unroll 8
  for (int t = 0; t < NT; ++t) {
    const size_t tok = t0 + size_t(t);
    xq[t] = a.q + tok * size_t(a.cols) + size_t(32 * b0);
    xd[t] = a.d + tok * size_t(a.nb) + size_t(b0);
    xs[t] = a.s + tok * size_t(a.nb) + size_t(b0);
    xb[t] = a.bias + tok * size_t(a.nb) + size_t(b0);
  }
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + size_t(b) * kGroups * kGroupBlockBytes;
    __m512i iacc[kGroups][NT];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const __m512i init = Mins ? _mm512_setzero_si512() : _mm512_set1_epi32(xb[t][b]);
      #pragma GCC unroll 8
      for (int g = 0; g < kGroups; ++g) iacc[g][t] = init;
    }
    #pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      __m512i wv[kGroups];
      #pragma GCC unroll 8
      for (int g = 0; g < kGroups; ++g) wv[g] = _mm512_load_si512(pb + g * kGroupBlockBytes + 64 * j);
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t) {
        int32_t x4;
        std::memcpy(&x4, xq[t] + 32 * b + 4 * j, 4);
        const __m512i xv = _mm512_set1_epi32(x4);
        #pragma GCC unroll 8
        for (int g = 0; g < kGroups; ++g) iacc[g][t] = _mm512_dpbusd_epi32(iacc[g][t], wv[g], xv);
      }
    }
    #pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g) {
      const __m512 sc = _mm512_load_ps(pb + g * kGroupBlockBytes + kCodeBytes);
      #pragma GCC unroll 8
      for (int t = 0; t < NT; ++t)
        facc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[g][t]), _mm512_mul_ps(sc, _mm512_set1_ps(xd[t][b])),
                                     facc[g][t]);
      if constexpr (Mins) {
        const __m512 mn = _mm512_load_ps(pb + g * kGroupBlockBytes + kCodeBytes + 64);
        #pragma GCC unroll 8
        for (int t = 0; t < NT; ++t) facc[g][t] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(xs[t][b]), facc[g][t]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int g = 0; g < kGroups; ++g)
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(y + (t0 + size_t(t)) * ldy + size_t(kLanes * g), mask[g], facc[g][t]);
}

using MicroFn = void (*)(const uint8_t*, int64_t, const Int8Acts&, size_t, int64_t, float*, size_t, const __mmask16*, bool);

template <bool Mins, int... I>
constexpr std::array<MicroFn, sizeof...(I)> micro_table(std::integer_sequence<int, I...>) {
  return {micro<I + 1, Mins>...};
}

}  // namespace

bool gemm_int8_supported(WType t) {
  return t == WType::Q4_0 || t == WType::Q8_0 || t == WType::Q4_K || t == WType::Q5_K;
}

int gemm_int8_offset(WType t) {
  switch (t) {
    case WType::Q4_0: return 8;
    case WType::Q8_0: return 128;
    default: return 0;
  }
}

void Int8ActBuffer::prepare(WType t, const float* x, int64_t cols, size_t t0, size_t t1) {
  const int64_t nb = cols / 32;
  const int offset = gemm_int8_offset(t);
  for (size_t tok = t0; tok < t1; ++tok) {
    int8_t* q = q_.data() + tok * size_t(cols);
    float* d = d_.data() + tok * size_t(nb);
    quantize_act_avx512(x + tok * size_t(cols), cols, q, d, s_.data() + tok * size_t(nb));
    int32_t* bias = bias_.data() + tok * size_t(nb);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * b)));
      const __m256i u = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 32 * b + 16)));
      const __m512i s32 = _mm512_cvtepi16_epi32(_mm256_add_epi16(v, u));
      bias[b] = -offset * _mm512_reduce_add_epi32(s32);
    }
  }
}

void Int8ActBuffer::resize(size_t n_tokens, int64_t cols) {
  const size_t nb = size_t(cols / 32);
  q_.resize(n_tokens * size_t(cols));
  d_.resize(n_tokens * nb);
  s_.resize(n_tokens * nb);
  bias_.resize(n_tokens * nb);
  acts_ = Int8Acts{q_.data(), d_.data(), s_.data(), bias_.data(), cols, int64_t(nb)};
}

void gemm_int8_avx512(const Weight& w, const Int8Acts& a, size_t n_tokens, int64_t r0, int64_t r1, float* y) {
  static constexpr auto micro_off = micro_table<false>(std::make_integer_sequence<int, kMaxTokens>());
  static constexpr auto micro_min = micro_table<true>(std::make_integer_sequence<int, kMaxTokens>());
  const bool mins = gemm_int8_offset(w.type) == 0;
  const auto& table = mins ? micro_min : micro_off;
  const int64_t nb_total = w.cols / 32;
  const size_t ldy = size_t(w.rows);
  static thread_local Repacker repacker;
  static thread_local std::vector<uint8_t> panel_store;
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
      repacker.run(w, r, nrows, b0, nb, panel);
      // Fetch the next chunk's weights while this one is multiplied: its rows are scattered segments
      // (one per row) that the hardware prefetchers do not anticipate, and waiting for them one row at
      // a time made the repacking latency-bound on wide matrices.
      if (b0 + kChunkBlocks < nb_total) prefetch_chunk<false>(w, r, nrows, b0 + kChunkBlocks, std::min<int64_t>(kChunkBlocks, nb_total - b0 - kChunkBlocks));
      else if (r + kPanelRows < r1) prefetch_chunk<false>(w, r + kPanelRows, int(std::min<int64_t>(kPanelRows, r1 - r - kPanelRows)), 0, std::min<int64_t>(kChunkBlocks, nb_total));
      for (size_t t0 = 0; t0 < n_tokens; t0 += kMaxTokens) {
        const int nt = int(std::min<size_t>(kMaxTokens, n_tokens - t0));
        table[size_t(nt - 1)](panel, nb, a, t0, b0, y + size_t(r), ldy, mask, b0 == 0);
      }
    }
  }
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#endif

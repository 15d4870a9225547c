// AVX-512 VNNI matrix-vector kernels for the 32-value nibble types beyond Q4_0: Q4_1, Q5_0, Q5_1, IQ4_NL and
// MXFP4. They store their codes as Q4_0 does (element j in the low nibble of qs[j], j + 16 in the high one),
// so they take Q4_0's activation layout (act_quant.cpp, nibble_layout) and its kernel's shape: four blocks
// per step, their 64 low nibbles in one vector and their 64 high nibbles in another, each multiplied by
// one vpdpbusd. Decoding a block this way costs about a quarter of kernels_more_simd.h's generic decoder
// (which these types used before, at 40-55 % of the read bandwidth on one core).
//
// Per type (Nib below): where the codes start in the block, the fifth bits (Q5_0/Q5_1: 32 bits after the
// scales, bit j for element j), a 16-entry value table (IQ4_NL, MXFP4: signed values, offset by 128 so that
// vpdpbusd takes them unsigned). The f16 scale comes first in each block, then (Q4_1, Q5_1: w = d * q + m) the
// f16 min; MXFP4's scale is one E8M0 byte. Codes offset by `off`
// (Q5_0: 16; the tables: 128) are corrected by the activations' bias (-off * their sum); mins add
// m * d_a * sum(q_a) per block from ActQ::s.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "quant/codecs.h"
#include "quant/iq_grids.h"
#include "quant/kernels_impl.h"
#include "quant/kernels_more.h"

// The target options come after every header (see kernels_avx512.cpp).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

namespace g4::kernels::impl {

namespace {

struct NQ4_1 {
  static constexpr int kStride = 20, kQs = 4, kQh = -1;
  static constexpr bool kMins = true;
  static constexpr const int8_t* kTable = nullptr;
};
struct NQ5_0 {
  static constexpr int kStride = 22, kQs = 6, kQh = 2;
  static constexpr bool kMins = false;
  static constexpr const int8_t* kTable = nullptr;
};
struct NQ5_1 {
  static constexpr int kStride = 24, kQs = 8, kQh = 4;
  static constexpr bool kMins = true;
  static constexpr const int8_t* kTable = nullptr;
};
struct NIQ4_NL {
  static constexpr int kStride = 18, kQs = 2, kQh = -1;
  static constexpr bool kMins = false;
  static constexpr const int8_t* kTable = iq::kIq4nlValues;
};
struct NMXFP4 {
  static constexpr int kStride = 17, kQs = 1, kQh = -1;
  static constexpr bool kMins = false;
  static constexpr const int8_t* kTable = iq::kMxfp4Values;
  static float scale(const uint8_t* b) { return codecs::e8m0_half(b[0]); }  // odd stride: read per block
};

// The 16 values of a table, +128, in every 128-bit lane (vpshufb looks up within lanes).
template <class N>
__m512i table512() {
  alignas(16) uint8_t t[16];
  for (int i = 0; i < 16; ++i) t[i] = uint8_t(int(N::kTable[i]) + 128);
  return _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
}

// Blocks 4g..4g+3 of a row: the low-nibble and high-nibble code vectors (unsigned, offset as the type says),
// the scales and the mins.
template <class N>
inline void decode4(const uint8_t* bg, __m512i tab, __m512i& lo, __m512i& hi, __m128& d, __m128& m) {
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + N::kQs)));
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + N::kStride + N::kQs)), 1);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + 2 * N::kStride + N::kQs)), 2);
  v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + 3 * N::kStride + N::kQs)), 3);
  lo = _mm512_and_si512(v, m4);
  hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
  uint64_t ml = 0, mh = 0;  // fifth bits: bits 0-15 of each block's word go to its low-nibble codes, 16-31 to its high ones
  if constexpr (N::kStride % 2 == 0) {
    // The group's f16 scales, mins and fifth-bit words by one word permutation of its bytes (the second
    // load is masked to the group's end: masked-off words are not read).
    constexpr int kS = N::kStride / 2, kH = N::kQh >= 0 ? N::kQh / 2 : 0;
    const __m512i idx = _mm512_setr_epi32(kS << 16, (3 * kS) << 16 | 2 * kS, 1 | (kS + 1) << 16, (2 * kS + 1) | (3 * kS + 1) << 16,
                                          kH | (kS + kH) << 16, (2 * kS + kH) | (3 * kS + kH) << 16,
                                          (kH + 1) | (kS + kH + 1) << 16, (2 * kS + kH + 1) | (3 * kS + kH + 1) << 16, 0, 0,
                                          0, 0, 0, 0, 0, 0);
    const __m512i a = _mm512_loadu_si512(bg);
    const __m512i b = _mm512_maskz_loadu_epi16(__mmask32((1ull << (2 * N::kStride - 32)) - 1), bg + 64);
    const __m256i w = _mm512_castsi512_si256(_mm512_permutex2var_epi16(a, idx, b));
    const __m256 dm = _mm256_cvtph_ps(_mm256_castsi256_si128(w));  // d0..d3, m0..m3
    d = _mm256_castps256_ps128(dm);
    m = N::kMins ? _mm256_extractf128_ps(dm, 1) : _mm_setzero_ps();
    if constexpr (N::kQh >= 0) {
      const __m128i h = _mm256_extracti128_si256(w, 1);  // low words of the 4 blocks' qh, then their high words
      ml = uint64_t(_mm_cvtsi128_si64(h));
      mh = uint64_t(_mm_extract_epi64(h, 1));
    }
  } else {  // MXFP4: byte scales at odd offsets
    d = _mm_setr_ps(N::scale(bg), N::scale(bg + N::kStride), N::scale(bg + 2 * N::kStride), N::scale(bg + 3 * N::kStride));
    m = _mm_setzero_ps();
  }
  if constexpr (N::kQh >= 0) {
    const __m512i sixteen = _mm512_set1_epi8(16);
    lo = _mm512_mask_add_epi8(lo, __mmask64(ml), lo, sixteen);
    hi = _mm512_mask_add_epi8(hi, __mmask64(mh), hi, sixteen);
  }
  if constexpr (N::kTable != nullptr) {
    lo = _mm512_shuffle_epi8(tab, lo);
    hi = _mm512_shuffle_epi8(tab, hi);
  }
}

template <class N, int NT>
void rows_nib(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32, ng = nb / 4;
  const __m512i tab = N::kTable != nullptr ? table512<N>() : _mm512_setzero_si512();
  const __m512i lane_block = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);  // lane l: block l / 4
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m512 acc[NT];
    __m128 accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps(), accm[t] = _mm_setzero_ps();
    for (int64_t g = 0; g < ng; ++g) {
      const uint8_t* bg = row + g * 4 * N::kStride;
      // Decoding streams every weight once: ask for the bytes 2 KiB ahead (68 to 96 bytes per step).
      _mm_prefetch(reinterpret_cast<const char*>(bg) + 2048, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(bg) + 2048 + 64, _MM_HINT_T0);
      __m512i lo, hi;
      __m128 d4, m4;
      decode4<N>(bg, tab, lo, hi, d4, m4);
      const __m512 dw = _mm512_permutexvar_ps(lane_block, _mm512_castps128_ps512(d4));
      for (int t = 0; t < NT; ++t) {
        const int8_t* aq = a[t].q + 128 * g;
        const __m512i start = (N::kQh >= 0 && !N::kMins) || N::kTable != nullptr
                                  ? _mm512_loadu_si512(a[t].bias + 16 * g)  // -off * sum for offset codes
                                  : _mm512_setzero_si512();
        const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(start, lo, _mm512_loadu_si512(aq)), hi,
                                              _mm512_loadu_si512(aq + 64));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_loadu_ps(a[t].dl + 16 * g)), acc[t]);
        if (N::kMins) accm[t] = _mm_fmadd_ps(m4, _mm_loadu_ps(a[t].s + 4 * g), accm[t]);
      }
    }
    for (int t = 0; t < NT; ++t) {
      // A partial group at the end keeps the natural layout: the scalar reference's decoding.
      float tail = 0;
      for (int64_t k = 4 * ng; k < nb; ++k) {
        Block32 blk;
        decode_block32(w.type, row, k, blk);
        const int8_t* aq = a[t].q + 32 * k;
        for (int h = 0; h < 2; ++h) {
          int dot = 0, sum = 0;
          for (int l = 16 * h; l < 16 * h + 16; ++l) dot += int(blk.q[l]) * int(aq[l]), sum += aq[l];
          tail += a[t].d[k] * (blk.sc[h] * float(dot) - blk.mn[h] * float(sum));
        }
      }
      __m128 m = accm[t];
      m = _mm_add_ps(m, _mm_movehl_ps(m, m));
      m = _mm_add_ss(m, _mm_movehdup_ps(m));
      y[size_t(t) * ldy + size_t(r)] = _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(m) + tail;
    }
  }
}

template <class N>
void rows_nib_nt(const Weight& w, const ActQ* a, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  switch (nt) {
    case 1: return rows_nib<N, 1>(w, a, r0, r1, y, ldy);
    case 2: return rows_nib<N, 2>(w, a, r0, r1, y, ldy);
    case 3: return rows_nib<N, 3>(w, a, r0, r1, y, ldy);
    default: return rows_nib<N, 4>(w, a, r0, r1, y, ldy);
  }
}

}  // namespace

RowsFn rows_fn_nib_avx512(WType t) {
  switch (t) {
    case WType::Q4_1: return rows_nib_nt<NQ4_1>;
    case WType::Q5_0: return rows_nib_nt<NQ5_0>;
    case WType::Q5_1: return rows_nib_nt<NQ5_1>;
    case WType::IQ4_NL: return rows_nib_nt<NIQ4_NL>;
    case WType::MXFP4: return rows_nib_nt<NMXFP4>;
    default: return nullptr;
  }
}

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

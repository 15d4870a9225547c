// SIMD bodies of kernels_more.h's kernels, compiled twice: by kernels_more_avx2.cpp (vpmaddubsw) and by
// kernels_more_vnni.cpp (vpdpbusd), each after including every standard header and then setting its
// target. This header includes nothing itself. Define G4_MORE_VNNI (0/1) and G4_MORE_NS before it
// (and G4_MORE_DECODERS_ONLY for the decoders alone).
//
// Each 32-value block decodes to 32 int8 weights q in one register with a per-lane scale vector
// (lanes 0-3 hold the first 16 values' products, lanes 4-7 the second 16's) and, for types with mins, a
// per-lane min vector applied to the activations' sums.

namespace g4::kernels::impl::G4_MORE_NS {

namespace {

using namespace blocks;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Sums of 4 products of signed q (|q| <= 127) and activations a (|a| <= 127), as 8 int32.
inline __m256i dot4(__m256i q, __m256i a) {
  const __m256i aq = _mm256_sign_epi8(q, q), sa = _mm256_sign_epi8(a, q);
#if G4_MORE_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aq, sa);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aq, sa), _mm256_set1_epi16(1));
#endif
}

// Sums of 4 activations, as 8 int32.
inline __m256i sum4(__m256i a) {
#if G4_MORE_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), a);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), a), _mm256_set1_epi16(1));
#endif
}

inline __m256 halves(float lo, float hi) { return _mm256_setr_m128(_mm_set1_ps(lo), _mm_set1_ps(hi)); }

// 16 bytes of nibbles (element j low, j + 16 high) as 32 bytes 0..15 in element order.
inline __m256i nibbles(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(0x0f);
  return _mm256_setr_m128i(_mm_and_si128(x, m), _mm_and_si128(_mm_srli_epi16(x, 4), m));
}

// 32 bits as 32 bytes: 0xFF where bit e of the little-endian word is set.
inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
  const __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)), shuf);
  const __m256i sel = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(b, sel), sel);
}

inline __m256i table16(const int8_t* v) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v)));
}

struct Dec {
  __m256i q;
  __m256 sc, mn;
};

// ---------------------------------------------------------------- decoders, one per type

struct KQ4_1 {
  static constexpr bool kMins = true;
  static Dec decode(const uint8_t* row, int64_t b) {
    const Q4_1* x = reinterpret_cast<const Q4_1*>(row) + b;
    return {nibbles(x->qs), _mm256_set1_ps(h2f(x->d)), _mm256_set1_ps(-h2f(x->m))};
  }
};

template <bool One>
struct KQ5 {
  static constexpr bool kMins = One;
  static Dec decode(const uint8_t* row, int64_t b) {
    const uint8_t* p = row + b * (One ? 24 : 22);
    const uint8_t* qh = p + (One ? 4 : 2);
    uint32_t h;
    std::memcpy(&h, qh, 4);
    uint16_t dh, mh = 0;
    std::memcpy(&dh, p, 2);
    if (One) std::memcpy(&mh, p + 2, 2);
    __m256i q = _mm256_or_si256(nibbles(qh + 4), _mm256_and_si256(bits_to_bytes(h), _mm256_set1_epi8(16)));
    if (!One) q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
    return {q, _mm256_set1_ps(h2f(dh)), One ? _mm256_set1_ps(-h2f(mh)) : _mm256_setzero_ps()};
  }
};

struct KIQ4_NL {
  static constexpr bool kMins = false;
  static Dec decode(const uint8_t* row, int64_t b) {
    const IQ4_NL* x = reinterpret_cast<const IQ4_NL*>(row) + b;
    return {_mm256_shuffle_epi8(table16(iq::kIq4nlValues), nibbles(x->qs)), _mm256_set1_ps(h2f(x->d)),
            _mm256_setzero_ps()};
  }
};

struct KMXFP4 {
  static constexpr bool kMins = false;
  static Dec decode(const uint8_t* row, int64_t b) {
    const MXFP4* x = reinterpret_cast<const MXFP4*>(row) + b;
    return {_mm256_shuffle_epi8(table16(iq::kMxfp4Values), nibbles(x->qs)), _mm256_set1_ps(codecs::e8m0_half(x->e)),
            _mm256_setzero_ps()};
  }
};

struct KIQ4_XS {
  static constexpr bool kMins = false;
  static Dec decode(const uint8_t* row, int64_t b) {
    const IQ4_XS* x = reinterpret_cast<const IQ4_XS*>(row) + b / 8;
    const int j = int(b % 8);
    const int ls = ((x->scales_l[j / 2] >> 4 * (j % 2)) & 0xf) | (((x->scales_h >> 2 * j) & 3) << 4);
    return {_mm256_shuffle_epi8(table16(iq::kIq4nlValues), nibbles(x->qs + 16 * j)),
            _mm256_set1_ps(h2f(x->d) * float(ls - 32)), _mm256_setzero_ps()};
  }
};

// The 2-bit codes of 32-value chunk j of a Q2_K / Q3_K super-block.
inline __m256i codes2(const uint8_t* qs, int j) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + (j / 4) * 32));
  return _mm256_and_si256(_mm256_srl_epi16(x, _mm_cvtsi32_si128(2 * (j % 4))), _mm256_set1_epi8(3));
}

struct KQ2_K {
  static constexpr bool kMins = true;
  static Dec decode(const uint8_t* row, int64_t b) {
    const Q2_K* x = reinterpret_cast<const Q2_K*>(row) + b / 8;
    const int j = int(b % 8);
    const float d = h2f(x->d), dmin = h2f(x->dmin);
    const uint8_t s0 = x->scales[2 * j], s1 = x->scales[2 * j + 1];
    return {codes2(x->qs, j), halves(d * float(s0 & 0xf), d * float(s1 & 0xf)),
            halves(dmin * float(s0 >> 4), dmin * float(s1 >> 4))};
  }
};

struct KQ3_K {
  static constexpr bool kMins = false;
  static Dec decode(const uint8_t* row, int64_t b) {
    const Q3_K* x = reinterpret_cast<const Q3_K*>(row) + b / 8;
    const int j = int(b % 8);
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->hmask));
    const __m256i bit = _mm256_set1_epi8(char(1 << j));
    const __m256i missing = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), _mm256_setzero_si256());
    const __m256i q = _mm256_sub_epi8(codes2(x->qs, j), _mm256_and_si256(missing, _mm256_set1_epi8(4)));
    int sc[2];
    for (int h = 0; h < 2; ++h) {
      const int k = 2 * j + h;
      const int lo = k < 8 ? (x->scales[k] & 0xf) : (x->scales[k - 8] >> 4);
      sc[h] = (lo | (((x->scales[8 + k % 4] >> (2 * (k / 4))) & 3) << 4)) - 32;
    }
    const float d = h2f(x->d);
    return {q, halves(d * float(sc[0]), d * float(sc[1])), _mm256_setzero_ps()};
  }
};

struct KIQ3_S {
  static constexpr bool kMins = false;
  static Dec decode(const uint8_t* row, int64_t b) {
    const IQ3_S* x = reinterpret_cast<const IQ3_S*>(row) + b / 8;
    const int j = int(b % 8);
    const uint8_t* qs = x->qs + 8 * j;
    const uint32_t h = x->qh[j];
    // Grid point k (0..7) has the 9-bit index qs[k] | bit k of h at bit 8.
    const __m256i idx = _mm256_or_si256(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs))),
        _mm256_and_si256(_mm256_sllv_epi32(_mm256_set1_epi32(int(h)), _mm256_setr_epi32(8, 7, 6, 5, 4, 3, 2, 1)),
                         _mm256_set1_epi32(256)));
    const __m256i v = _mm256_i32gather_epi32(reinterpret_cast<const int*>(iq::kIq3sGrid), idx, 4);
    uint32_t signs;
    std::memcpy(&signs, x->signs + 4 * j, 4);
    const __m256i neg = bits_to_bytes(signs);
    const __m256i q = _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);  // negate where the sign bit is set
    const int sc = j % 2 == 0 ? (x->scales[j / 2] & 0xf) : (x->scales[j / 2] >> 4);
    return {q, _mm256_set1_ps(h2f(x->d) * float(1 + 2 * sc)), _mm256_setzero_ps()};
  }
};

#ifndef G4_MORE_DECODERS_ONLY  // the integer GEMM's repacking (gemm_int8_more_avx512.cpp) takes the decoders only

// ---------------------------------------------------------------- the row kernel

template <class K, int NT>
void rows(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  const size_t row_bytes = w.row_bytes();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      // Decoding streams every weight once: ask for the bytes 2 KiB ahead (the hardware prefetchers alone
      // leave these kernels waiting on DRAM), one line per block (blocks are 17 to 34 bytes per 32 values).
      _mm_prefetch(reinterpret_cast<const char*>(row) + size_t(b) * row_bytes / size_t(nb) + 2048, _MM_HINT_T0);
      const Dec dec = K::decode(row, b);
      for (int t = 0; t < NT; ++t) {
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t].q + 32 * b));
        __m256 v = _mm256_mul_ps(dec.sc, _mm256_cvtepi32_ps(dot4(dec.q, av)));
        if (K::kMins) v = _mm256_fnmadd_ps(dec.mn, _mm256_cvtepi32_ps(sum4(av)), v);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(a[t].d[b]), v, acc[t]);
      }
    }
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = hsum(acc[t]);
  }
}

template <class K>
void rows_nt(const Weight& w, const ActQ* a, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
  switch (nt) {
    case 1: return rows<K, 1>(w, a, r0, r1, y, ldy);
    case 2: return rows<K, 2>(w, a, r0, r1, y, ldy);
    case 3: return rows<K, 3>(w, a, r0, r1, y, ldy);
    default: return rows<K, 4>(w, a, r0, r1, y, ldy);
  }
}

#endif  // G4_MORE_DECODERS_ONLY

}  // namespace

#ifndef G4_MORE_DECODERS_ONLY
RowsFn rows_fn(WType t) {
  switch (t) {
    case WType::Q4_1: return rows_nt<KQ4_1>;
    case WType::Q5_0: return rows_nt<KQ5<false>>;
    case WType::Q5_1: return rows_nt<KQ5<true>>;
    case WType::IQ4_NL: return rows_nt<KIQ4_NL>;
    case WType::MXFP4: return rows_nt<KMXFP4>;
    case WType::IQ4_XS: return rows_nt<KIQ4_XS>;
    case WType::Q2_K: return rows_nt<KQ2_K>;
    case WType::Q3_K: return rows_nt<KQ3_K>;
    case WType::IQ3_S: return rows_nt<KIQ3_S>;
    default: return nullptr;
  }
}

#endif  // G4_MORE_DECODERS_ONLY

}  // namespace g4::kernels::impl::G4_MORE_NS

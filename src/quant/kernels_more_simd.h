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

// Types with 256-value super-blocks also give (for the AVX-512 row kernel) the codes of block j alone and
// the 16 scales (and mins) of a whole super-block, lane k of sc for values 16k..16k+15, decoded once for its
// 8 blocks with 512-bit integer operations (sb_scales: compiled only where G4_MORE_VNNI says AVX-512).
#if G4_MORE_VNNI
inline __m512i lanes_k() { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }
inline __m512i lanes_k2() { return _mm512_srli_epi32(lanes_k(), 1); }  // k / 2: the block of half k
inline __m512 cvt(__m512i v) { return _mm512_cvtepi32_ps(v); }
#endif

struct KIQ4_XS {
  using B = IQ4_XS;
  static constexpr bool kMins = false;
  static int ls(const B* x, int j) { return ((x->scales_l[j / 2] >> 4 * (j % 2)) & 0xf) | (((x->scales_h >> 2 * j) & 3) << 4); }
  static __m256i codes(const B* x, int j) { return _mm256_shuffle_epi8(table16(iq::kIq4nlValues), nibbles(x->qs + 16 * j)); }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    uint32_t sl;
    std::memcpy(&sl, x->scales_l, 4);
    const __m512i j = lanes_k2();
    const __m512i lo = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(int(sl)), _mm512_slli_epi32(j, 2)), _mm512_set1_epi32(0xf));
    const __m512i hi = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(x->scales_h), _mm512_slli_epi32(j, 1)), _mm512_set1_epi32(3));
    const __m512i v = _mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32));
    sc = _mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), cvt(v));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), _mm256_set1_ps(h2f(x->d) * float(ls(x, j) - 32)), _mm256_setzero_ps()};
  }
};

// The 2-bit codes of 32-value chunk j of a Q2_K / Q3_K super-block.
inline __m256i codes2(const uint8_t* qs, int j) {
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + (j / 4) * 32));
  return _mm256_and_si256(_mm256_srl_epi16(x, _mm_cvtsi32_si128(2 * (j % 4))), _mm256_set1_epi8(3));
}

struct KQ2_K {
  using B = Q2_K;
  static constexpr bool kMins = true;
  static __m256i codes(const B* x, int j) { return codes2(x->qs, j); }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512& mn) {
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales)));
    sc = _mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), cvt(_mm512_and_si512(v, _mm512_set1_epi32(0xf))));
    mn = _mm512_mul_ps(_mm512_set1_ps(h2f(x->dmin)), cvt(_mm512_srli_epi32(v, 4)));
  }
#endif
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
  using B = Q3_K;
  static constexpr bool kMins = false;
  static int scale(const B* x, int k) {  // the 6-bit signed scale of values 16k..16k+15
    const int lo = k < 8 ? (x->scales[k] & 0xf) : (x->scales[k - 8] >> 4);
    return (lo | (((x->scales[8 + k % 4] >> (2 * (k / 4))) & 3) << 4)) - 32;
  }
  static __m256i codes(const B* x, int j) {
    const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->hmask));
    const __m256i bit = _mm256_set1_epi8(char(1 << j));
    const __m256i missing = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), _mm256_setzero_si256());
    return _mm256_sub_epi8(codes2(x->qs, j), _mm256_and_si256(missing, _mm256_set1_epi8(4)));
  }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    // The 16 6-bit scales as bytes: low 4 bits from bytes 0-7 (low nibbles, then high), the top 2 from
    // bytes 8-11 (2 bits per scale, scales k and k + 4, k + 8, k + 12 in one byte).
    uint32_t a0, a1, t;
    std::memcpy(&a0, x->scales, 4);
    std::memcpy(&a1, x->scales + 4, 4);
    std::memcpy(&t, x->scales + 8, 4);
    const uint32_t m4 = 0x0f0f0f0f, m2 = 0x03030303;
    const __m128i b = _mm_setr_epi32(int((a0 & m4) | ((t & m2) << 4)), int((a1 & m4) | (((t >> 2) & m2) << 4)),
                                     int(((a0 >> 4) & m4) | (((t >> 4) & m2) << 4)), int(((a1 >> 4) & m4) | (((t >> 6) & m2) << 4)));
    sc = _mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), cvt(_mm512_sub_epi32(_mm512_cvtepu8_epi32(b), _mm512_set1_epi32(32))));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    const float d = h2f(x->d);
    return {codes(x, j), halves(d * float(scale(x, 2 * j)), d * float(scale(x, 2 * j + 1))), _mm256_setzero_ps()};
  }
};

struct KIQ3_S {
  using B = IQ3_S;
  static constexpr bool kMins = false;
  static int sc4(const B* x, int j) { return j % 2 == 0 ? (x->scales[j / 2] & 0xf) : (x->scales[j / 2] >> 4); }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    uint32_t s4;
    std::memcpy(&s4, x->scales, 4);
    const __m512i v = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(int(s4)), _mm512_slli_epi32(lanes_k2(), 2)),
                                       _mm512_set1_epi32(0xf));
    sc = _mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), cvt(_mm512_add_epi32(_mm512_slli_epi32(v, 1), _mm512_set1_epi32(1))));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), _mm256_set1_ps(h2f(x->d) * float(1 + 2 * sc4(x, j))), _mm256_setzero_ps()};
  }
  static __m256i codes(const B* x, int j) {
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
    return _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);  // negate where the sign bit is set
  }
};

// ---------------------------------------------------------------- the other grid i-quants
// Grid points come from the tables by gathers: four 8-byte points (IQ2, IQ1) or eight 4-byte points (IQ3)
// per 32 values. Signs are 32 bits, one per value.

// Grid points idx[0..3] of an 8-byte-point grid, as 32 bytes.
inline __m256i gather8x4(const uint64_t* grid, __m128i idx) {
  return _mm256_i32gather_epi64(reinterpret_cast<const long long*>(grid), idx, 8);
}

inline __m256i apply_signs(__m256i v, uint32_t signs) {
  const __m256i neg = bits_to_bytes(signs);
  return _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);
}

// 7 stored sign bits -> the negation mask of 8 values (0xFF bytes where negative), the eighth sign making
// the count even (iq::iq_signs): one 64-bit gather gives four groups' masks.
struct SignMasks {
  uint64_t m[128];
  constexpr SignMasks() : m() {
    for (int s = 0; s < 128; ++s) {
      int bits = s, n = 0;
      for (int k = 0; k < 7; ++k) n += (s >> k) & 1;
      if (n & 1) bits |= 128;
      for (int k = 0; k < 8; ++k)
        if ((bits >> k) & 1) m[s] |= uint64_t(0xff) << (8 * k);
    }
  }
};
inline constexpr SignMasks kSignMasks{};

// Negates v where the masks of the four 7-bit sign fields idx (one per 8 values) say.
inline __m256i apply_sign_fields(__m256i v, __m128i idx) {
  const __m256i neg = gather8x4(kSignMasks.m, idx);
  return _mm256_sub_epi8(_mm256_xor_si256(v, neg), neg);
}

// The four 7-bit sign fields of a packed word (bits 0, 7, 14, 21).
inline __m128i fields4x7(uint32_t packed) {
  return _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(int(packed)), _mm_setr_epi32(0, 7, 14, 21)), _mm_set1_epi32(127));
}

struct KIQ2_XXS {
  using B = IQ2_XXS;
  static constexpr bool kMins = false;
  static uint32_t aux1(const B* x, int j) {
    uint32_t a;
    std::memcpy(&a, x->qs + 4 * j + 2, 4);
    return a;
  }
  static __m256i codes(const B* x, int j) {
    uint32_t a0;
    std::memcpy(&a0, x->qs + 4 * j, 4);
    const __m256i v = gather8x4(iq::kIq2xxsGrid, _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(a0))));
    return apply_sign_fields(v, fields4x7(aux1(x, j)));
  }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    // aux1 of block j is 32-bit word 2j + 1 of qs.
    const __m512i words = _mm512_loadu_si512(x->qs);
    const __m512i idx = _mm512_add_epi32(_mm512_slli_epi32(lanes_k2(), 1), _mm512_set1_epi32(1));
    const __m512 s = cvt(_mm512_srli_epi32(_mm512_permutexvar_epi32(idx, words), 28));
    sc = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), _mm512_add_ps(_mm512_set1_ps(0.5f), s)), _mm512_set1_ps(0.25f));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), _mm256_set1_ps(h2f(x->d) * (0.5f + float(aux1(x, j) >> 28)) * 0.25f), _mm256_setzero_ps()};
  }
};

// IQ2_XS / IQ2_S: two 4-bit scales per 32 values.
inline __m256 iq2_halves(uint16_t dh, uint8_t sc) {
  const float d = h2f(dh);
  return halves(d * (0.5f + float(sc & 0xf)) * 0.25f, d * (0.5f + float(sc >> 4)) * 0.25f);
}

// IQ2_XS / IQ2_S: a 4-bit scale per 16 values.
#if G4_MORE_VNNI
template <class B>
__m512 iq2_sb_scales(const B* x) {
  uint32_t w[2];
  std::memcpy(w, x->scales, 8);
  // Half k is nibble k of the 8 bytes: bits 4k..4k+3 of the low word (k < 8), else of the high one.
  const __m512i words = _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(int(w[0])), _mm512_set1_epi32(int(w[1])));
  const __m512i sh = _mm512_slli_epi32(_mm512_and_si512(lanes_k(), _mm512_set1_epi32(7)), 2);
  const __m512 s = cvt(_mm512_and_si512(_mm512_srlv_epi32(words, sh), _mm512_set1_epi32(0xf)));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), _mm512_add_ps(_mm512_set1_ps(0.5f), s)), _mm512_set1_ps(0.25f));
}
#endif

struct KIQ2_XS {
  using B = IQ2_XS;
  static constexpr bool kMins = false;
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) { sc = iq2_sb_scales(x); }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), iq2_halves(x->d, x->scales[j]), _mm256_setzero_ps()};
  }
  static __m256i codes(const B* x, int j) {
    uint64_t q4;  // four 16-bit codes: 9-bit index, 7 sign bits
    std::memcpy(&q4, x->qs + 4 * j, 8);
    const __m128i q = _mm_cvtepu16_epi32(_mm_cvtsi64_si128(int64_t(q4)));
    const __m256i v = gather8x4(iq::kIq2xsGrid, _mm_and_si128(q, _mm_set1_epi32(511)));
    return apply_sign_fields(v, _mm_srli_epi32(q, 9));
  }
};

struct KIQ2_S {
  using B = IQ2_S;
  static constexpr bool kMins = false;
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) { sc = iq2_sb_scales(x); }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), iq2_halves(x->d, x->scales[j]), _mm256_setzero_ps()};
  }
  static __m256i codes(const B* x, int j) {
    uint32_t lo, signs;
    std::memcpy(&lo, x->qs + 4 * j, 4);
    std::memcpy(&signs, x->qs + 32 + 4 * j, 4);
    // Index l = byte l | bits 2l..2l+1 of qh at bits 8..9.
    const __m128i idx = _mm_or_si128(
        _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(lo))),
        _mm_and_si128(_mm_sllv_epi32(_mm_set1_epi32(x->qh[j]), _mm_setr_epi32(8, 6, 4, 2)), _mm_set1_epi32(0x300)));
    return apply_signs(gather8x4(iq::kIq2sGrid, idx), signs);
  }
};

struct KIQ3_XXS {
  using B = IQ3_XXS;
  static constexpr bool kMins = false;
  static uint32_t aux(const B* x, int j) {
    uint32_t a;
    std::memcpy(&a, x->qs + 64 + 4 * j, 4);
    return a;
  }
  static __m256i codes(const B* x, int j) {
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x->qs + 8 * j)));
    const __m256i v = _mm256_i32gather_epi32(reinterpret_cast<const int*>(iq::kIq3xxsGrid), idx, 4);
    return apply_sign_fields(v, fields4x7(aux(x, j)));
  }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    const __m512i words = _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qs + 64)));
    const __m512 s = cvt(_mm512_srli_epi32(_mm512_permutexvar_epi32(lanes_k2(), words), 28));
    sc = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), _mm512_add_ps(_mm512_set1_ps(0.5f), s)), _mm512_set1_ps(0.5f));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), _mm256_set1_ps(h2f(x->d) * (0.5f + float(aux(x, j) >> 28)) * 0.5f), _mm256_setzero_ps()};
  }
};

// IQ1: grid bytes g in {-1, 0, 1} with delta +-1/8 per 8 values, as the integers 8g +- 1 (the scale is
// divided by 8, exactly). neg: 0xFF bytes where delta is negative.
inline __m256i iq1_codes(__m256i g, __m256i neg) {
  return _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g), _mm256_or_si256(neg, _mm256_set1_epi8(1)));
}

struct KIQ1_S {
  using B = IQ1_S;
  static constexpr bool kMins = false;
  static float dl(const B* x, int j, float d) { return d * float(2 * ((x->qh[j] >> 12) & 7) + 1) * 0.125f; }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& sc, __m512&) {
    const __m512i qh = _mm512_castsi256_si512(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x->qh))));
    const __m512i s = _mm512_and_si512(_mm512_srli_epi32(_mm512_permutexvar_epi32(lanes_k2(), qh), 12), _mm512_set1_epi32(7));
    const __m512 v = cvt(_mm512_add_epi32(_mm512_slli_epi32(s, 1), _mm512_set1_epi32(1)));
    sc = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(h2f(x->d)), v), _mm512_set1_ps(0.125f));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    return {codes(x, j), _mm256_set1_ps(dl(x, j, h2f(x->d))), _mm256_setzero_ps()};
  }
  static __m256i codes(const B* x, int j) {
    const uint32_t qh = x->qh[j];
    uint32_t lo;
    std::memcpy(&lo, x->qs + 4 * j, 4);
    const __m128i idx = _mm_or_si128(
        _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(lo))),
        _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(int(qh << 8)), _mm_setr_epi32(0, 3, 6, 9)), _mm_set1_epi32(0x700)));
    const __m256i neg = _mm256_set1_epi8(char(qh & 0x8000 ? -1 : 0));
    return iq1_codes(gather8x4(iq::kIq1sGrid, idx), neg);
  }
};

struct KIQ1_M {
  using B = IQ1_M;
  static constexpr bool kMins = false;
  static float super_scale(const uint16_t* sc) {
    return h2f(uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)));
  }
  // The 3-bit scale of values 16k..16k+15, as d * (2s + 1) / 8.
  static float half_scale(const uint16_t* sc, int k, float d) {
    return d * float(2 * ((sc[k / 4] >> (6 * ((k / 2) % 2) + 3 * (k % 2))) & 7) + 1) * 0.125f;
  }
#if G4_MORE_VNNI
  static void sb_scales(const B* x, __m512& out, __m512&) {
    uint16_t sc[4];
    std::memcpy(sc, x->scales, 8);
    const __m512i words = _mm512_permutexvar_epi32(_mm512_srli_epi32(lanes_k(), 2),
                                                   _mm512_castsi128_si512(_mm_setr_epi32(sc[0], sc[1], sc[2], sc[3])));
    // Half k: shift 6 * ((k / 2) % 2) + 3 * (k % 2).
    const __m512i sh = _mm512_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9);
    const __m512i s = _mm512_and_si512(_mm512_srlv_epi32(words, sh), _mm512_set1_epi32(7));
    const __m512 v = cvt(_mm512_add_epi32(_mm512_slli_epi32(s, 1), _mm512_set1_epi32(1)));
    out = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(super_scale(sc)), v), _mm512_set1_ps(0.125f));
  }
#endif
  static Dec decode(const uint8_t* row, int64_t b) {
    const B* x = reinterpret_cast<const B*>(row) + b / 8;
    const int j = int(b % 8);
    uint16_t sc[4];
    std::memcpy(sc, x->scales, 8);
    const float d = super_scale(sc);
    return {codes(x, j), halves(half_scale(sc, 2 * j, d), half_scale(sc, 2 * j + 1, d)), _mm256_setzero_ps()};
  }
  static __m256i codes(const B* x, int j) {
    uint32_t lo;
    std::memcpy(&lo, x->qs + 4 * j, 4);
    const uint32_t h = uint32_t(x->qh[2 * j]) | uint32_t(x->qh[2 * j + 1]) << 8;
    // Index l's high bits: the low (even l) or high (odd l) nibble of qh[2j + l / 2], bits 0..2.
    const __m128i hi = _mm_srlv_epi32(_mm_set1_epi32(int(h << 8)), _mm_setr_epi32(0, 4, 8, 12));
    const __m128i idx = _mm_or_si128(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(lo))), _mm_and_si128(hi, _mm_set1_epi32(0x700)));
    // Delta signs: bit 3 of each nibble, one per 8 values (0 - bit: all ones where set).
    const __m256i bit = _mm256_and_si256(_mm256_srlv_epi64(_mm256_set1_epi64x(h), _mm256_setr_epi64x(3, 7, 11, 15)),
                                         _mm256_set1_epi64x(1));
    return iq1_codes(gather8x4(iq::kIq1sGrid, idx), _mm256_sub_epi64(_mm256_setzero_si256(), bit));
  }
};

#ifndef G4_MORE_DECODERS_ONLY  // the integer GEMM's repacking (gemm_int8_more_avx512.cpp) takes the decoders only

// ---------------------------------------------------------------- the row kernel

template <class K, int NT>
void rows(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  const int64_t nb = w.cols / 32;
  // Bytes per 32-value block in 1/64ths (super-blocks hold 8 blocks of 10.25 to 13.75 bytes): a multiply and
  // a shift per prefetch address instead of a 64-bit division, which cost more than the decoding itself.
  const size_t block_bytes64 = w.row_bytes() * 64 / size_t(nb);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.row_ptr(r);
    __m256 acc[NT];
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      // Decoding streams every weight once: ask for the bytes 2 KiB ahead (the hardware prefetchers alone
      // leave these kernels waiting on DRAM), one line per block (blocks are 17 to 34 bytes per 32 values).
      _mm_prefetch(reinterpret_cast<const char*>(row) + ((size_t(b) * block_bytes64) >> 6) + 2048, _MM_HINT_T0);
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

#if G4_MORE_VNNI
// The AVX-512 row kernel of the super-block types: their 16 scales (and mins) decoded once per super-block,
// the codes per block, two blocks per 512-bit step, on activations in ActBuffer's AVX-512 layout (natural
// order for these types; per int32 lane of 4 values its block's scale dl and bias = -128 * their sum, see
// act_quant.cpp's avx512_offset). Signed codes are made unsigned (+128, an xor) so that one vpdpbusd
// starting from the bias gives the exact integer sums; unsigned codes (the types with mins) start from 0,
// and their mins take the activations' sums from the bias (sum = -bias / 128, exact in f32). (The 32-value
// types take kernels_nib_avx512.cpp's kernels on AVX-512.)
template <class K, int NT>
void rows512_sb(const Weight& w, const ActQ* a, int64_t r0, int64_t r1, float* y, size_t ldy) {
  using B = typename K::B;
  const int64_t nsb = w.cols / 256;
  const __m512i flip = _mm512_set1_epi8(char(K::kMins ? 0 : 0x80));
  const __m512i lane_half = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);  // lane l: half l / 4
  for (int64_t r = r0; r < r1; ++r) {
    const B* row = reinterpret_cast<const B*>(w.row_ptr(r));
    __m512 acc[NT], accm[NT];
    for (int t = 0; t < NT; ++t) acc[t] = accm[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nsb; ++i) {
      const B* x = row + i;
      // Decoding streams every weight once: ask for the bytes 2 KiB ahead (50 to 110 bytes per super-block).
      _mm_prefetch(reinterpret_cast<const char*>(x) + 2048, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(x) + 2048 + 64, _MM_HINT_T0);
      __m512 sc, mn = _mm512_setzero_ps();
      K::sb_scales(x, sc, mn);
      if (K::kMins) mn = _mm512_mul_ps(mn, _mm512_set1_ps(1.0f / 128));
      for (int pp = 0; pp < 4; ++pp) {  // blocks 2pp and 2pp + 1: halves 4pp..4pp+3
        const __m512i q =
            _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(K::codes(x, 2 * pp)), K::codes(x, 2 * pp + 1), 1), flip);
        const __m512i idx = _mm512_add_epi32(lane_half, _mm512_set1_epi32(4 * pp));
        const __m512 s16 = _mm512_permutexvar_ps(idx, sc);
        const __m512 m16 = K::kMins ? _mm512_permutexvar_ps(idx, mn) : _mm512_setzero_ps();
        const int64_t p = 4 * i + pp;
        for (int t = 0; t < NT; ++t) {
          const __m512i bias = _mm512_loadu_si512(a[t].bias + 16 * p);
          const __m512 dl = _mm512_loadu_ps(a[t].dl + 16 * p);
          const __m512i dot = _mm512_dpbusd_epi32(K::kMins ? _mm512_setzero_si512() : bias, q, _mm512_loadu_si512(a[t].q + 64 * p));
          acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(s16, dl), acc[t]);
          if (K::kMins) accm[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(bias), _mm512_mul_ps(m16, dl), accm[t]);  // -mn * sum
        }
      }
    }
    for (int t = 0; t < NT; ++t) y[size_t(t) * ldy + size_t(r)] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t], accm[t]));
  }
}
#endif

template <class K>
void rows_nt(const Weight& w, const ActQ* a, int nt, int64_t r0, int64_t r1, float* y, size_t ldy) {
#if G4_MORE_VNNI
  switch (nt) {
    case 1: return rows512_sb<K, 1>(w, a, r0, r1, y, ldy);
    case 2: return rows512_sb<K, 2>(w, a, r0, r1, y, ldy);
    case 3: return rows512_sb<K, 3>(w, a, r0, r1, y, ldy);
    default: return rows512_sb<K, 4>(w, a, r0, r1, y, ldy);
  }
#else
  switch (nt) {
    case 1: return rows<K, 1>(w, a, r0, r1, y, ldy);
    case 2: return rows<K, 2>(w, a, r0, r1, y, ldy);
    case 3: return rows<K, 3>(w, a, r0, r1, y, ldy);
    default: return rows<K, 4>(w, a, r0, r1, y, ldy);
  }
#endif
}

#endif  // G4_MORE_DECODERS_ONLY

}  // namespace

#ifndef G4_MORE_DECODERS_ONLY
RowsFn rows_fn(WType t) {
  switch (t) {
#if !G4_MORE_VNNI  // on AVX-512 the 32-value types take kernels_nib_avx512.cpp's kernels (Q4_0's layout)
    case WType::Q4_1: return rows_nt<KQ4_1>;
    case WType::Q5_0: return rows_nt<KQ5<false>>;
    case WType::Q5_1: return rows_nt<KQ5<true>>;
    case WType::IQ4_NL: return rows_nt<KIQ4_NL>;
    case WType::MXFP4: return rows_nt<KMXFP4>;
#endif
    case WType::IQ4_XS: return rows_nt<KIQ4_XS>;
    case WType::Q2_K: return rows_nt<KQ2_K>;
    case WType::Q3_K: return rows_nt<KQ3_K>;
    case WType::IQ3_S: return rows_nt<KIQ3_S>;
    case WType::IQ3_XXS: return rows_nt<KIQ3_XXS>;
    case WType::IQ2_XXS: return rows_nt<KIQ2_XXS>;
    case WType::IQ2_XS: return rows_nt<KIQ2_XS>;
    case WType::IQ2_S: return rows_nt<KIQ2_S>;
    case WType::IQ1_S: return rows_nt<KIQ1_S>;
    case WType::IQ1_M: return rows_nt<KIQ1_M>;
    default: return nullptr;
  }
}

#endif  // G4_MORE_DECODERS_ONLY

}  // namespace g4::kernels::impl::G4_MORE_NS

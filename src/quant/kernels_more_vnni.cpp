// kernels_more.h's kernels for AVX-512 VNNI machines: the super-block types' row kernels on 512-bit vectors
// (kernels_more_simd.h's rows512_sb) and the 32-value types' (kernels_nib_avx512.cpp).
#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics (casts, conversions) trip its own uninitialized-variable warnings.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/blocks.h"
#include "quant/codecs.h"
#include "quant/iq_grids.h"
#include "quant/kernels_more.h"

// Every standard header is included above: only this file's own functions get the wider target.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512dq,avx512vnni")
#endif

namespace g4::kernels::impl::more_vnni {
RowsFn rows_fn(WType t);
}
#define G4_MORE_VNNI 1
#define G4_MORE_NS more_vnni
#include "quant/kernels_more_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace g4::kernels::impl {
RowsFn rows_fn_more_vnni(WType t) {
  if (RowsFn f = rows_fn_nib_avx512(t)) return f;  // the 32-value nibble types' own kernels
  return more_vnni::rows_fn(t);
}
}  // namespace g4::kernels::impl

#else  // other architectures: no such kernels (the dispatcher never asks for them there)

#include "quant/kernels_more.h"

namespace g4::kernels::impl {
RowsFn rows_fn_more_vnni(WType) { return nullptr; }
}  // namespace g4::kernels::impl

#endif

// kernels_more.h's kernels for AVX2 + FMA + F16C machines (vpmaddubsw / vpmaddwd).
#if defined(__x86_64__)
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
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace g4::kernels::impl::more_avx2 {
RowsFn rows_fn(WType t);
}
#define G4_MORE_VNNI 0
#define G4_MORE_NS more_avx2
#include "quant/kernels_more_simd.h"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace g4::kernels::impl {
RowsFn rows_fn_more_avx2(WType t) { return more_avx2::rows_fn(t); }
}  // namespace g4::kernels::impl

#else  // other architectures: no such kernels (the dispatcher never asks for them there)

#include "quant/kernels_more.h"

namespace g4::kernels::impl {
RowsFn rows_fn_more_avx2(WType) { return nullptr; }
}  // namespace g4::kernels::impl

#endif

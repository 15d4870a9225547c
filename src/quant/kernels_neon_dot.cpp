// ARM64 NEON matrix-vector kernels with the dot-product instructions (SDOT, ARMv8.2 DotProd), called
// only where the CPU reports them (cpu_features().dotprod); see kernels_neon_rows.h.
#include <arm_neon.h>

#include <cstring>

#include "quant/blocks.h"
#include "quant/kernels_impl.h"

#if defined(__clang__) && __clang_major__ < 16 && !defined(__ARM_FEATURE_DOTPROD)
// Clang before 16 declares vdotq_s32 only in files compiled wholly for DotProd, which would let inline
// library code use it too: with such a compiler the baseline kernels serve this level.
namespace g4::kernels::impl {
RowsFn rows_fn_neon_dot(WType t) { return rows_fn_neon(t); }
}  // namespace g4::kernels::impl
#else

// The target options come after every header, so that no standard-library or project inline function is
// compiled for DotProd (the linker keeps one copy of each, and that one must run on every ARMv8 CPU).
// kernels_neon_rows.h itself defines only functions local to this file.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")  // every CPU with DotProd implements ARMv8.2
#endif

#include "quant/kernels_neon_rows.h"

namespace g4::kernels::impl {
namespace {
template <>
struct Dot16<true> {
  static int32x4_t run(int32x4_t acc, int8x16_t w, int8x16_t a) { return vdotq_s32(acc, w, a); }
};
}  // namespace

RowsFn rows_fn_neon_dot(WType t) { return neon_rows_for<true>(t); }

}  // namespace g4::kernels::impl

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif

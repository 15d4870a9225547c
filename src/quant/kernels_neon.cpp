// ARM64 NEON matrix-vector kernels for every ARMv8 CPU (widening multiplies); see kernels_neon_rows.h.
#include "quant/kernels_neon_rows.h"

namespace g4::kernels::impl {

RowsFn rows_fn_neon(WType t) { return neon_rows_for<false>(t); }

}  // namespace g4::kernels::impl
